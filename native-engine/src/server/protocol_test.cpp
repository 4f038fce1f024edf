#include "server/protocol.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

using namespace vggt::server;

namespace {
// Parses a request that must fail; returns the error and the id recovered from it.
std::pair<ProtocolError, std::string> parse_error(const std::string& line) {
  std::string id;
  try {
    parse_request(line, &id);
  } catch (const ProtocolError& e) {
    return {e, id};
  }
  ADD_FAILURE() << "no error for: " << line;
  return {ProtocolError(ErrorCode::Internal, "none"), id};
}
}  // namespace

TEST(ServerProtocol, ParsesLoadWithWeightsConfigAndOptions) {
  Request r = parse_request(
      R"({"type":"load","id":"l1","weights":"/m/w.safetensors","config":"/m/config.json",)"
      R"("options":{"threads":2,"flags":{"bf16":true,"prepack":false}}})",
      nullptr);
  EXPECT_EQ(r.type, "load");
  EXPECT_EQ(r.id, "l1");
  EXPECT_EQ(r.load.weights, "/m/w.safetensors");
  EXPECT_FALSE(r.load.random);
  EXPECT_EQ(r.load.config, "/m/config.json");
  ASSERT_TRUE(r.load.options.threads.has_value());
  EXPECT_EQ(*r.load.options.threads, 2);
  EXPECT_EQ(r.load.options.flags.at("bf16"), true);
  EXPECT_EQ(r.load.options.flags.at("prepack"), false);
}

TEST(ServerProtocol, ParsesOptionParameters) {
  Request r = parse_request(
      R"({"type":"load","id":"l3","random":{"seed":1},"options":{"flags":{"global-kv-subsample":true},)"
      R"("params":{"global-kv-subsample":{"stride":3,"first":2},"global-block-sparse":{"keep":0.5}}}})",
      nullptr);
  EXPECT_EQ(r.load.options.params.at("global-kv-subsample").at("stride"), 3.0);
  EXPECT_EQ(r.load.options.params.at("global-kv-subsample").at("first"), 2.0);
  EXPECT_EQ(r.load.options.params.at("global-block-sparse").at("keep"), 0.5);
}

TEST(ServerProtocol, ParsesRandomLoadWithDefaultConfig) {
  Request r = parse_request(R"({"type":"load","id":"l2","random":{"seed":7}})", nullptr);
  EXPECT_TRUE(r.load.random);
  EXPECT_EQ(r.load.seed, 7u);
  EXPECT_EQ(r.load.config, "vggt-1b");
}

TEST(ServerProtocol, ParsesInferFromImagesAndFromTensor) {
  Request a = parse_request(
      R"({"type":"infer","id":"j1","images":["a.png","b.jpg"],"preprocess":"pad","output":"o.safetensors","keep_debug":true})",
      nullptr);
  EXPECT_EQ(a.infer.images.size(), 2u);
  EXPECT_EQ(a.infer.preprocess, "pad");
  EXPECT_TRUE(a.infer.keep_debug);
  EXPECT_EQ(a.infer.output, "o.safetensors");
  Request b = parse_request(R"({"type":"infer","id":"j2","input_tensor":"in.safetensors","output":"o.safetensors"})",
                            nullptr);
  EXPECT_EQ(b.infer.input_tensor, "in.safetensors");
  EXPECT_EQ(b.infer.input_tensor_name, "images");
  EXPECT_EQ(b.infer.preprocess, "tensor");
  EXPECT_FALSE(b.infer.keep_debug);
}

TEST(ServerProtocol, MalformedJsonIsABadRequestWithoutId) {
  auto [e, id] = parse_error(R"({"type":"load","id":"x",)");
  EXPECT_EQ(e.code, ErrorCode::BadRequest);
  EXPECT_NE(std::string(e.what()).find("malformed JSON"), std::string::npos);
  EXPECT_TRUE(id.empty());
  EXPECT_EQ(parse_error("[1,2]").first.code, ErrorCode::BadRequest);
  EXPECT_EQ(parse_error(R"({"type":"status"})").first.code, ErrorCode::BadRequest);  // no id
}

TEST(ServerProtocol, UnknownTypeKeepsTheIdForCorrelation) {
  auto [e, id] = parse_error(R"({"type":"explode","id":"q9"})");
  EXPECT_EQ(e.code, ErrorCode::UnknownType);
  EXPECT_EQ(id, "q9");
  EXPECT_NE(std::string(e.what()).find("explode"), std::string::npos);
}

TEST(ServerProtocol, FieldErrorsNameTheField) {
  struct Case { const char* line; const char* mentions; };
  const Case cases[] = {
      {R"({"type":"load","id":"a"})", "exactly one of 'weights'"},
      {R"({"type":"load","id":"a","weights":"w","random":{"seed":1}})", "exactly one of 'weights'"},
      {R"({"type":"load","id":"a","random":{"seed":-1}})", "random.seed"},
      {R"({"type":"load","id":"a","weights":3})", "'weights' must be a string"},
      {R"({"type":"load","id":"a","weights":"w","options":{"threads":"4"}})", "options.threads"},
      {R"({"type":"load","id":"a","weights":"w","options":{"threads":257}})", "'options.threads' must be an integer in [0, 256]"},
      {R"({"type":"load","id":"a","weights":"w","options":{"threads":-1}})", "'options.threads' must be an integer in [0, 256]"},
      {R"({"type":"load","id":"a","weights":"w","options":{"flags":{"bf16":1}}})", "options.flags.bf16"},
      {R"({"type":"load","id":"a","weights":"w","options":{"flags":{"turbo":true}}})", "unknown option flag 'turbo' (known: "},
      {R"({"type":"load","id":"a","weights":"w","options":{"params":{"global-kv-subsample":{"stride":0}}}})",
       "engine option 'global-kv-subsample': stride must be an integer in [1, 16], got '0'"},
      {R"({"type":"load","id":"a","weights":"w","options":{"params":{"global-kv-subsample":{"stride":"3"}}}})",
       "'options.params.global-kv-subsample.stride' must be a number"},
      {R"({"type":"load","id":"a","weights":"w","options":{"params":{"global-block-sparse":{"ratio":0.5}}}})",
       "has no parameter 'ratio' (parameters: keep, cdf)"},
      {R"({"type":"load","id":"a","weights":"w","options":{"params":{"bf16":{"x":1}}}})", "'bf16' takes no value"},
      {R"({"type":"load","id":"a","weights":"w","options":{"params":{"turbo":{"x":1}}}})", "unknown option 'turbo'"},
      {R"({"type":"infer","id":"a","output":"o"})", "exactly one of 'images'"},
      {R"({"type":"infer","id":"a","images":[],"output":"o"})", "non-empty array"},
      {R"({"type":"infer","id":"a","images":["x.png"],"preprocess":"zoom","output":"o"})", "preprocess"},
      {R"({"type":"infer","id":"a","images":["x.png"]})", "'output'"},
      {R"({"type":"cancel","id":"a"})", "'job'"},
  };
  for (const auto& c : cases) {
    auto [e, id] = parse_error(c.line);
    EXPECT_EQ(e.code, ErrorCode::BadRequest) << c.line;
    EXPECT_EQ(id, "a") << c.line;
    EXPECT_NE(std::string(e.what()).find(c.mentions), std::string::npos) << c.line << " -> " << e.what();
  }
}

TEST(ServerProtocol, DeeplyNestedRequestsAreRefusedBeforeParsing) {
  // 16 MiB of '[' would build millions of nested arrays (GBs) before failing.
  const std::string line = R"({"type":"load","id":"a","x":)" + std::string(8 << 20, '[');
  auto [e, id] = parse_error(line);
  EXPECT_EQ(e.code, ErrorCode::BadRequest);
  EXPECT_NE(std::string(e.what()).find("request nests deeper than the limit of 64 levels"), std::string::npos) << e.what();
  // Brackets inside strings do not count.
  std::string ok_line = R"({"type":"ping","id":"p","note":")" + std::string(1000, '[') + R"("})";
  EXPECT_EQ(parse_request(ok_line, nullptr).type, "ping");
}

TEST(ServerProtocol, InferPathChecksNameTheMissingFile) {
  char tmpl[] = "/tmp/vggt-proto-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::ofstream(dir + "/a.png") << "x";
  InferRequest r;
  r.images = {dir + "/a.png", dir + "/missing.png"};
  r.output = dir + "/out.safetensors";
  try {
    check_infer_paths(r);
    ADD_FAILURE() << "missing image not reported";
  } catch (const ProtocolError& e) {
    EXPECT_EQ(e.code, ErrorCode::NotFound);
    EXPECT_NE(std::string(e.what()).find("missing.png"), std::string::npos);
  }
  r.images = {dir + "/a.png"};
  r.output = dir + "/no/such/dir/out.safetensors";
  try {
    check_infer_paths(r);
    ADD_FAILURE() << "missing output directory not reported";
  } catch (const ProtocolError& e) {
    EXPECT_EQ(e.code, ErrorCode::IoError);
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
  }
  r.output = dir + "/out.safetensors";
  EXPECT_NO_THROW(check_infer_paths(r));
  std::remove((dir + "/a.png").c_str());
  rmdir(dir.c_str());
}

TEST(ServerProtocol, EventsAreSingleLinesEvenWithNewlinesAndBadUtf8InText) {
  auto e = make_error("j1", ErrorCode::BadInput, "bad\nimage \xff\xfe name");
  std::string line = to_line(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto back = nlohmann::json::parse(line);
  EXPECT_EQ(back["type"], "error");
  EXPECT_EQ(back["id"], "j1");
  EXPECT_EQ(back["code"], "bad_input");
  EXPECT_TRUE(nlohmann::json::parse(to_line(make_error("", ErrorCode::BadRequest, "x")))["id"].is_null());
}

TEST(ServerProtocol, ParsesTrackRequestsAndRejectsBadOnes) {
  Request a = parse_request(
      R"({"type":"track","id":"t","run":"r1","query_points":[[1,2],[3.5,4.25]],"query_space":"original","output":"t.safetensors"})",
      nullptr);
  EXPECT_EQ(a.track.run, "r1");
  EXPECT_EQ(a.track.points, (std::vector<float>{1, 2, 3.5f, 4.25f}));
  EXPECT_EQ(a.track.query_space, "original");
  EXPECT_EQ(a.track.output, "t.safetensors");
  Request g = parse_request(R"({"type":"track","id":"t","run":"r1","grid":8})", nullptr);
  EXPECT_EQ(g.track.grid, 8);
  EXPECT_TRUE(g.track.points.empty());
  Request inf = parse_request(R"({"type":"infer","id":"j","input_tensor":"a","output":"o","track_cache":true})", nullptr);
  EXPECT_TRUE(inf.infer.track_cache);
  EXPECT_EQ(parse_request(R"({"type":"release_track_cache","id":"x"})", nullptr).type, "release_track_cache");
  for (const char* line : {
           R"({"type":"track","id":"t","grid":2})",                                           // no run
           R"({"type":"track","id":"t","run":"r"})",                                          // neither points nor grid
           R"({"type":"track","id":"t","run":"r","grid":2,"query_points":[[1,1]]})",          // both
           R"({"type":"track","id":"t","run":"r","grid":65})",                                // grid too big
           R"({"type":"track","id":"t","run":"r","query_points":[]})",                        // empty
           R"({"type":"track","id":"t","run":"r","query_points":[[1,2,3]]})",                 // not a pair
           R"({"type":"track","id":"t","run":"r","query_points":[["1",2]]})",                 // not numbers
           R"({"type":"track","id":"t","run":"r","query_points":[[1,2]],"query_space":"x"})",  // bad space
           R"({"type":"track","id":"t","run":"r","grid":2,"query_space":"original"})",
           R"({"type":"infer","id":"j","input_tensor":"a","output":"o","track_cache":1})"}) {
    auto [e, id] = parse_error(line);
    EXPECT_EQ(e.code, ErrorCode::BadRequest) << line;
    EXPECT_FALSE(id.empty()) << line;
  }
  auto [e, id] = parse_error(R"({"type":"track","id":"t","run":"r","query_points":[[1,2],[3]]})");
  EXPECT_NE(std::string(e.what()).find("query_points[1]"), std::string::npos) << e.what();
  EXPECT_STREQ(error_code_name(ErrorCode::NoTrackCache), "no_track_cache");
}
