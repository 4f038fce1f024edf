// `describe --json`: the schema, the option table and presets, and the parameter table against
// the official VGGT-1B state dict (../shared/goldens/vggt-1b-params.json).
#include "runtime/describe.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "core/version.h"
#include "model/config.h"
#include "model/engine_options.h"
#include "testing/golden.h"

namespace vggt {
namespace {

using nlohmann::json;

std::set<std::string> keys(const json& j) {
  std::set<std::string> k;
  for (const auto& [name, v] : j.items()) k.insert(name);
  return k;
}

TEST(Describe, TopLevelAndOptionSchema) {
  const json d = runtime::describe_json();
  EXPECT_EQ(keys(d), (std::set<std::string>{"schema", "engine_version", "options", "presets", "default_bound", "configs",
                                            "parameters"}));
  EXPECT_EQ(d["schema"], 1);
  EXPECT_EQ(d["engine_version"], engine_version());
  ASSERT_EQ(d["options"].size(), static_cast<size_t>(kOptionCount));
  for (const json& o : d["options"]) {
    EXPECT_EQ(keys(o), (std::set<std::string>{"name", "kind", "group", "in_all", "help", "params"})) << o.dump();
    EXPECT_TRUE(o["kind"] == "exact" || o["kind"] == "lossy") << o.dump();
    EXPECT_TRUE(o["group"] == "optimizations" || o["group"] == "many-frames") << o.dump();
    for (const json& p : o["params"]) {
      std::set<std::string> expected{"name", "min", "max", "default", "integer", "help"};
      if (p.contains("choices")) {
        // An enum-like parameter: integer values 0..n-1 naming its choices.
        expected.insert("choices");
        EXPECT_TRUE(p["integer"].get<bool>()) << p.dump();
        EXPECT_EQ(p["min"], 0) << p.dump();
        EXPECT_EQ(p["max"].get<double>() + 1, static_cast<double>(p["choices"].size())) << p.dump();
      }
      EXPECT_EQ(keys(p), expected) << p.dump();
      EXPECT_LE(p["min"].get<double>(), p["default"].get<double>()) << p.dump();
      EXPECT_LE(p["default"].get<double>(), p["max"].get<double>()) << p.dump();
    }
  }
  EXPECT_EQ(d["options"], option_table_json());
  EXPECT_EQ(keys(d["configs"]), (std::set<std::string>{"vggt-1b"}));
  EXPECT_EQ(keys(d["parameters"]), (std::set<std::string>{"vggt-1b", "vggt-1b-track"}));
}

TEST(Describe, ParameterDefaultsAreTheTypedSetsDefaults) {
  const EngineOptions o;
  EXPECT_EQ(o.param("global-early-frame", "k"), 8);
  EXPECT_EQ(o.param("global-kv-subsample", "stride"), 4);
  EXPECT_EQ(o.param("global-kv-subsample", "first"), 8);
  EXPECT_EQ(o.param("global-kv-subsample", "last"), 21);
  EXPECT_EQ(o.param("global-block-sparse", "keep"), 0.25);
  EXPECT_EQ(o.param("global-block-sparse", "cdf"), 0);
  for (const auto& opt : option_table())
    for (const auto& p : opt.params) EXPECT_EQ(validate_param(opt, p.name, p.def(), "default"), p.def()) << p.name;
}

TEST(Describe, PresetsParseToTheirSets) {
  const json d = runtime::describe_json();
  std::map<std::string, std::string> by_name;
  std::set<std::string> candidates;
  for (const json& p : d["presets"]) {
    if (p.contains("default_candidate")) {
      EXPECT_EQ(keys(p), (std::set<std::string>{"name", "options", "help", "default_candidate", "accuracy"})) << p.dump();
      EXPECT_EQ(keys(p["accuracy"]), (std::set<std::string>{"rotation_deg", "points_rel_rms", "basis"})) << p.dump();
      candidates.insert(p["name"].get<std::string>());
    } else {
      EXPECT_EQ(keys(p), (std::set<std::string>{"name", "options", "help"})) << p.dump();
    }
    by_name[p["name"]] = p["options"];
  }
  // The per-machine default is one of these (model/default_choice.h).
  EXPECT_EQ(candidates, (std::set<std::string>{"fastest-exact", "all", "fastest-int8", "int8-fp32"}));
  EXPECT_EQ(keys(d["default_bound"]), (std::set<std::string>{"rotation_deg", "points_rel_rms", "basis"}));
  ASSERT_EQ(by_name.size(), 7u);
  auto on = [&](const std::string& preset) {
    std::set<std::string> s;
    const EngineOptions o = parse_option_list(by_name.at(preset), 0);
    for (const auto& opt : option_table())
      if (o.on(opt.id)) s.insert(opt.name);
    return s;
  };
  const std::set<std::string> all = {"sincos-lowp", "rope-fused", "rope-cache", "dpt-pos-cache", "fused-add-ln",
                                     "bf16",        "prepack",    "flash-attn"};
  EXPECT_EQ(on("reference"), std::set<std::string>{});
  EXPECT_EQ(on("all"), all);
  EXPECT_EQ(on("writeup"), (std::set<std::string>{"sincos-lowp", "rope-fused", "rope-cache", "dpt-pos-cache",
                                                   "fused-add-ln", "bf16", "prepack"}));
  EXPECT_EQ(on("fastest-exact"), (std::set<std::string>{"sincos-lowp", "rope-fused", "rope-cache", "dpt-pos-cache",
                                                         "fused-add-ln", "prepack", "flash-attn"}));
  std::set<std::string> int8 = all;
  int8.insert("w8a8");
  EXPECT_EQ(on("fastest-int8"), int8);
  int8.erase("bf16");
  EXPECT_EQ(on("int8-fp32"), int8);
  std::set<std::string> many = all;
  many.insert({"global-early-frame", "global-kv-subsample", "global-block-sparse"});
  EXPECT_EQ(on("many-frames"), many);
}

TEST(Describe, ConfigIsTheOfficialVggt1B) {
  const std::string shared = testing::shared_dir();
  if (shared.empty()) GTEST_SKIP() << "*** ../shared not found: SKIPPED ***";
  const ModelConfig official = ModelConfig::from_json_file(shared + "/goldens/vggt-1b-config.json");
  EXPECT_EQ(runtime::describe_json()["configs"]["vggt-1b"], json::parse(official.to_json()));
}

TEST(Describe, ParameterTablesAreTheOfficialStateDict) {
  const std::string shared = testing::shared_dir();
  if (shared.empty()) GTEST_SKIP() << "*** ../shared not found: SKIPPED ***";
  std::ifstream f(shared + "/goldens/vggt-1b-params.json");
  const json official = json::parse(f);
  const json d = runtime::describe_json()["parameters"];
  // With the track head: every official tensor, same shapes, same count.
  std::map<std::string, json> want_track, want;
  for (const auto& [name, v] : official["tensors"].items()) {
    want_track[name] = v["shape"];
    if (name.rfind("track_head.", 0) != 0) want[name] = v["shape"];
  }
  auto table = [](const json& t) {
    std::map<std::string, json> m;
    for (const json& e : t["tensors"]) {
      EXPECT_EQ(keys(e), (std::set<std::string>{"name", "shape"}));
      EXPECT_TRUE(m.emplace(e["name"], e["shape"]).second) << "listed twice: " << e["name"];
    }
    return m;
  };
  EXPECT_EQ(table(d["vggt-1b-track"]), want_track);
  EXPECT_EQ(d["vggt-1b-track"]["count"].get<int64_t>(), official["num_params"].get<int64_t>());
  // Without it: the same minus the track head's tensors and parameters.
  EXPECT_EQ(table(d["vggt-1b"]), want);
  EXPECT_EQ(d["vggt-1b"]["count"].get<int64_t>(),
            official["num_params"].get<int64_t>() - official["params_by_part"]["track_head"].get<int64_t>());
}

TEST(Describe, CliPrintsTheSameDocument) {
  FILE* p = popen((std::string(VGGT_ENGINE_BIN) + " describe --json").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out.substr(0, 400);
  EXPECT_EQ(json::parse(out), runtime::describe_json());
}

TEST(Version, EngineVersionIsPackageJsons) {
  std::ifstream f(std::string(VGGT_SOURCE_DIR) + "/../package.json");
  ASSERT_TRUE(f.good());
  const json pkg = json::parse(f);
  EXPECT_EQ(std::string(engine_version()), pkg["version"].get<std::string>());
  EXPECT_FALSE(pkg["version"].get<std::string>().empty());
}

}  // namespace
}  // namespace vggt
