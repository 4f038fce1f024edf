# Layers of the engine: one static library per folder of src/, compiled with an include tree
# (build/layers/<folder>/) that holds symbolic links to its own folder and to the folders of the
# layers below it, and nothing else. An #include of a higher layer is then "file not found".

set(VGGT_LAYER_STAGE "${CMAKE_BINARY_DIR}/layers")
file(REMOVE_RECURSE "${VGGT_LAYER_STAGE}")  # links of an earlier layering must not linger

# vggt_layer(<target> <folder> [<lower layer target>...])
function(vggt_layer target folder)
  file(GLOB sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/src/${folder}/*.cpp")
  list(FILTER sources EXCLUDE REGEX ".*_test\\.cpp$")
  list(FILTER sources EXCLUDE REGEX ".*/cli/main\\.cpp$")
  add_library(${target} STATIC ${sources})
  target_link_libraries(${target} PUBLIC ${ARGN})
  target_compile_options(${target} PRIVATE ${VGGT_BASE_FLAGS})
  set(visible ${folder})
  foreach(lower ${ARGN})
    get_target_property(v ${lower} VGGT_VISIBLE_FOLDERS)
    list(APPEND visible ${v})
  endforeach()
  list(REMOVE_DUPLICATES visible)
  set_target_properties(${target} PROPERTIES VGGT_VISIBLE_FOLDERS "${visible}")
  set(stage "${VGGT_LAYER_STAGE}/${folder}")
  file(MAKE_DIRECTORY "${stage}")
  foreach(f ${visible})
    file(CREATE_LINK "${CMAKE_CURRENT_SOURCE_DIR}/src/${f}" "${stage}/${f}" SYMBOLIC)
  endforeach()
  target_include_directories(${target} PRIVATE "${stage}")
endfunction()

# ctest: probes compiled with a layer's include tree. An upward include must fail with "not
# found"; an include of a lower layer must compile.
function(vggt_layering_tests)
  set(flags -std=c++20 -fsyntax-only -I${DNNL_INCLUDE_DIR})
  if(MPI_CXX_FOUND)
    list(APPEND flags -DVGGT_WITH_MPI=1)
    foreach(d ${MPI_CXX_INCLUDE_DIRS})
      list(APPEND flags -I${d})
    endforeach()
  endif()
  set(probes "${CMAKE_CURRENT_SOURCE_DIR}/layering")
  add_test(NAME Layering.ServerCannotIncludeCli
           COMMAND ${CMAKE_CXX_COMPILER} ${flags} -I${VGGT_LAYER_STAGE}/server ${probes}/includes_cli.cpp)
  set_tests_properties(Layering.ServerCannotIncludeCli PROPERTIES
    PASS_REGULAR_EXPRESSION "cli/args\\.h: No such file or directory|'cli/args\\.h' file not found")
  add_test(NAME Layering.OpsCannotIncludeModel
           COMMAND ${CMAKE_CXX_COMPILER} ${flags} -I${VGGT_LAYER_STAGE}/ops ${probes}/includes_model.cpp)
  set_tests_properties(Layering.OpsCannotIncludeModel PROPERTIES
    PASS_REGULAR_EXPRESSION "model/config\\.h: No such file or directory|'model/config\\.h' file not found")
  add_test(NAME Layering.ServerSeesTheLayersBelow
           COMMAND ${CMAKE_CXX_COMPILER} ${flags} -I${VGGT_LAYER_STAGE}/server ${probes}/includes_lower_layers.cpp)
endfunction()
