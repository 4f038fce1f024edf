#include "testing/temp_dir.h"

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace vggt::testing {

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "vggt-test-XXXXXX").string();
  if (!mkdtemp(templ.data())) throw std::runtime_error("cannot make a temporary directory from " + templ);
  path = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

}  // namespace vggt::testing
