// The option table and the `--options` syntax with parameters.
#include "model/engine_options.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace vggt {
namespace {

std::string error_of(const std::string& list) {
  try {
    parse_option_list(list, 0);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(EngineOptions, BareNameTakesTheDefaults) {
  const EngineOptions o = parse_option_list("global-kv-subsample", 0);
  EXPECT_TRUE(o.on(Opt::global_kv_subsample));
  EXPECT_EQ(o.param("global-kv-subsample", "stride"), 4);
  EXPECT_EQ(o.param("global-kv-subsample", "first"), 8);
  EXPECT_EQ(o.param("global-kv-subsample", "last"), 21);
  EXPECT_DOUBLE_EQ(parse_option_list("global-block-sparse", 0).param("global-block-sparse", "keep"), 0.25);
  EXPECT_EQ(parse_option_list("global-early-frame", 0).param("global-early-frame", "k"), 8);
}

TEST(EngineOptions, ValueSetsTheFirstParameterAndNamedParametersTheirOwn) {
  const EngineOptions o =
      parse_option_list("bf16,global-kv-subsample=3,global-kv-subsample.first=2,global-block-sparse.cdf=0.9", 0);
  EXPECT_TRUE(o.on(Opt::bf16));
  EXPECT_EQ(o.param("global-kv-subsample", "stride"), 3);
  EXPECT_EQ(o.param("global-kv-subsample", "first"), 2);
  EXPECT_EQ(o.param("global-kv-subsample", "last"), 21);
  EXPECT_TRUE(o.on(Opt::global_block_sparse));
  EXPECT_DOUBLE_EQ(o.param("global-block-sparse", "cdf"), 0.9);
  EXPECT_DOUBLE_EQ(o.param("global-block-sparse", "keep"), 0.25);
  EXPECT_FALSE(parse_option_list("global-early-frame=2,-global-early-frame", 0).on(Opt::global_early_frame));
}

TEST(EngineOptions, DegenerateSettingsParse) {
  EXPECT_EQ(parse_option_list("global-early-frame=0", 0).param("global-early-frame", "k"), 0);
  EXPECT_EQ(parse_option_list("global-kv-subsample=1", 0).param("global-kv-subsample", "stride"), 1);
  EXPECT_DOUBLE_EQ(parse_option_list("global-block-sparse=1", 0).param("global-block-sparse", "keep"), 1.0);
}

TEST(EngineOptions, InvalidValuesNameTheOptionAndTheRange) {
  EXPECT_EQ(error_of("global-kv-subsample=0"),
            "engine option 'global-kv-subsample': stride must be an integer in [1, 16], got '0'");
  EXPECT_EQ(error_of("global-kv-subsample=2.5"),
            "engine option 'global-kv-subsample': stride must be an integer in [1, 16], got '2.5'");
  EXPECT_EQ(error_of("global-block-sparse=1.5"),
            "engine option 'global-block-sparse': keep must be a number in [0.01, 1], got '1.5'");
  EXPECT_EQ(error_of("global-early-frame=abc"),
            "engine option 'global-early-frame': k must be an integer in [0, 64], got 'abc'");
  EXPECT_EQ(error_of("global-early-frame="),
            "engine option 'global-early-frame': k must be an integer in [0, 64], got ''");
  EXPECT_EQ(error_of("bf16=2"), "engine option 'bf16' takes no value, got '2'");
  EXPECT_EQ(error_of("global-kv-subsample.size=2"),
            "engine option 'global-kv-subsample' has no parameter 'size' (parameters: stride, first, last)");
  EXPECT_EQ(error_of("global-kv-subsample.first=12,global-kv-subsample.last=10"),
            "engine option 'global-kv-subsample': first (12) must be <= last (10)");
  EXPECT_NE(error_of("turbo").find("unknown engine option 'turbo' (known: sincos-lowp,"), std::string::npos);
  EXPECT_EQ(error_of("-global-early-frame=3"),
            "engine option '-global-early-frame=3': a switched-off option takes no value");
}

TEST(EngineOptions, AllLeavesTheLossyManyFrameTogglesOff) {
  const EngineOptions o = parse_option_list("all", 0);
  EXPECT_TRUE(o.on(Opt::bf16));
  EXPECT_TRUE(o.on(Opt::flash_attn));
  EXPECT_FALSE(o.on(Opt::w8a8));
  for (Opt n : {Opt::global_early_frame, Opt::global_kv_subsample, Opt::global_block_sparse}) EXPECT_FALSE(o.on(n));
}

TEST(EngineOptions, TableJsonListsKindParametersAndDefaults) {
  const nlohmann::json t = option_table_json();
  ASSERT_EQ(t.size(), option_table().size());
  bool seen = false;
  for (const auto& o : t) {
    if (o["name"] == "flash-attn") EXPECT_EQ(o["kind"], "exact");
    if (o["name"] == "w8a8") EXPECT_EQ(o["kind"], "lossy");
    if (o["name"] != "global-kv-subsample") continue;
    seen = true;
    EXPECT_EQ(o["kind"], "lossy");
    ASSERT_EQ(o["params"].size(), 3u);
    EXPECT_EQ(o["params"][0]["name"], "stride");
    EXPECT_EQ(o["params"][0]["default"], 4);
    EXPECT_EQ(o["params"][0]["min"], 1);
    EXPECT_EQ(o["params"][0]["max"], 16);
    EXPECT_EQ(o["params"][0]["integer"], true);
  }
  EXPECT_TRUE(seen);
}

TEST(EngineOptions, ChoiceParametersTakeNamesOrIndicesAndListTheirChoices) {
  EngineOptions o = parse_option_list("all,w8a8=fc2,w8a8.outliers=hadamard+special", 0);
  EXPECT_TRUE(o.on(Opt::w8a8));
  EXPECT_EQ(o.w8a8.scope, static_cast<int>(Int8Scope::fc2));
  EXPECT_EQ(o.w8a8.outliers, static_cast<int>(Int8Outliers::hadamard_special));
  o = parse_option_list("w8a8.scope=1,w8a8.outliers=special", 0);
  EXPECT_EQ(o.w8a8.scope, static_cast<int>(Int8Scope::all_linears));
  EXPECT_EQ(o.w8a8.outliers, static_cast<int>(Int8Outliers::special));
  // Records keep numbers (the protocol's params are numbers); the table gives the names.
  EXPECT_EQ(option_params_json(o).dump(), R"({"w8a8":{"outliers":1,"residual":1,"scope":1}})");
  o = parse_option_list("w8a8.residual=none", 0);
  EXPECT_EQ(o.w8a8.residual, static_cast<int>(Int8Residual::none));
  EXPECT_EQ(parse_option_list("w8a8", 0).w8a8.residual, static_cast<int>(Int8Residual::special_mean));
  auto error_of = [](const std::string& list) {
    try {
      parse_option_list(list, 0);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of("w8a8=attention"),
            "engine option 'w8a8': scope must be one of fc2 (0), all-linears (1), got 'attention'");
  EXPECT_EQ(error_of("w8a8.outliers=4"),
            "engine option 'w8a8': outliers must be one of none (0), special (1), hadamard (2), hadamard+special "
            "(3), got '4'");
  for (const auto& t : option_table_json())
    if (t["name"] == "w8a8") {
      EXPECT_EQ(t["params"][0]["choices"], nlohmann::json({"fc2", "all-linears"}));
      EXPECT_EQ(t["params"][1]["choices"], nlohmann::json({"none", "special", "hadamard", "hadamard+special"}));
      EXPECT_EQ(t["params"][2]["choices"], nlohmann::json({"none", "special+mean"}));
    } else {
      for (const auto& p : t["params"]) EXPECT_FALSE(p.contains("choices")) << t["name"];
    }
}

TEST(EngineOptions, ParamsJsonRecordsEffectiveValuesOfOptionsThatAreOn) {
  const nlohmann::json j = option_params_json(parse_option_list("bf16,global-kv-subsample=2", 0));
  EXPECT_EQ(j.dump(), R"({"global-kv-subsample":{"first":8,"last":21,"stride":2}})");
}

}  // namespace
}  // namespace vggt
