// Config files are outside data: every field is checked before any size is derived from it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "model/config.h"

namespace vggt {
namespace {

std::string config_error(const std::string& text) {
  try {
    ModelConfig::from_json_text(text, "cfg.json");
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR(text, needle)                                                   \
  do {                                                                               \
    const std::string m = config_error(text);                                        \
    EXPECT_NE(m.find(needle), std::string::npos) << "config " << text << " -> " << m; \
    EXPECT_EQ(m.rfind("cfg.json: ", 0), 0u) << m;                                    \
  } while (0)

TEST(ConfigValidation, EveryFieldIsCheckedBeforeUse) {
  // num_heads 0 used to reach `embed_dim % num_heads` (SIGFPE).
  EXPECT_ERROR(R"({"num_heads": 0})", "config field 'num_heads' is 0, outside [1, 1024]");
  EXPECT_ERROR(R"({"encoder": {"num_heads": 0}})", "'encoder.num_heads' is 0");
  EXPECT_ERROR(R"({"camera": {"num_heads": 0}})", "'camera.num_heads' is 0");
  // Negative dimensions used to end in a bare std::bad_alloc.
  EXPECT_ERROR(R"({"embed_dim": -64})", "'embed_dim' is -64");
  EXPECT_ERROR(R"({"dpt": {"features": -1}})", "'dpt.features' is -1");
  EXPECT_ERROR(R"({"dpt": {"out_channels": [8, -16, 32, 64]}})", "'dpt.out_channels[1]' is -16");
  EXPECT_ERROR(R"({"depth": 1000000000})", "'depth' is 1000000000");
  EXPECT_ERROR(R"({"embed_dim": 99999999999999999999})", "'embed_dim'");
  EXPECT_ERROR(R"({"patch_size": 0})", "'patch_size' is 0");
  EXPECT_ERROR(R"({"mlp_ratio": -4})", "'mlp_ratio'");
  // Types: no raw json.exception, the field is named.
  EXPECT_ERROR(R"({"embed_dim": "1024"})", "'embed_dim' must be an integer, got string");
  EXPECT_ERROR(R"({"num_heads": 2.5})", "'num_heads' must be an integer");
  EXPECT_ERROR(R"({"camera": 3})", "'camera' must be an object");
  EXPECT_ERROR(R"({"qk_norm": "yes"})", "'qk_norm' must be true or false");
  EXPECT_ERROR(R"({"dpt": {"intermediate_layer_idx": [0, 1]}})", "'dpt.intermediate_layer_idx' must be an array of 4");
  EXPECT_ERROR(R"([1, 2])", "config must be a JSON object");
  // Relations between fields.
  EXPECT_ERROR(R"({"embed_dim": 100, "num_heads": 16})", "'num_heads' must divide embed_dim (100)");
  EXPECT_ERROR(R"({"img_size": 500})", "'img_size' must be a multiple of patch_size (14)");
  EXPECT_ERROR(R"({"depth": 4})", "'dpt.intermediate_layer_idx' holds 4, not below depth (4)");
  // Nesting and size are bounded before parsing.
  EXPECT_ERROR(std::string(100000, '[') + std::string(100000, ']'), "nests deeper than the limit of 64");
  const std::string m = config_error("{not json");
  EXPECT_NE(m.find("cfg.json: config is not valid JSON"), std::string::npos) << m;
  // The preset itself passes.
  EXPECT_EQ(config_error(ModelConfig::vggt_1b().to_json()), "");
}

TEST(ConfigValidation, OnlyRegularFilesAreRead) {
  const std::string fifo = "/tmp/vggt-config-fifo-" + std::to_string(getpid());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  try {
    ModelConfig::from_json_file(fifo);  // used to block forever waiting for a writer
    ADD_FAILURE() << "FIFO accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(fifo + ": config is a FIFO (named pipe), not a regular file"), std::string::npos)
        << e.what();
  }
  std::remove(fifo.c_str());
  try {
    ModelConfig::from_json_file("/dev/zero");
    ADD_FAILURE() << "/dev/zero accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/dev/zero: config is a character device"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vggt
