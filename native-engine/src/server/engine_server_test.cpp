// In-process tests of the request/worker state machine, against the real model code.
#include "testing/golden.h"
#include "testing/temp_dir.h"
#include "server/engine_server.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <thread>

#include "io/checkpoint.h"

using namespace vggt::server;
using nlohmann::json;

namespace {

using vggt::testing::shared_dir;

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

#define REQUIRE_SHARED()                                                                      \
  do {                                                                                        \
    if (!exists(shared_dir() + "/goldens/tiny-2f/weights.safetensors")) {                     \
      std::cerr << "\n*** SKIPPED: shared goldens not found at " << shared_dir() << " ***\n"; \
      GTEST_SKIP() << "shared goldens absent";                                                \
    }                                                                                         \
  } while (0)

using vggt::testing::TempDir;

// A server whose output is captured and parsed, with waiting helpers.
struct Session {
  CaptureWriter out;
  Server server{out, ServerOptions{}};

  void send_raw(const std::string& line) { server.handle({line, false}); }
  void send(const json& j) { send_raw(j.dump()); }
  std::vector<json> events() const {
    std::vector<json> v;
    for (const auto& l : out.lines()) v.push_back(json::parse(l));
    return v;
  }
  // The first event (after the first `skip` ones) that matches; fails after `timeout`.
  json wait_for(const std::function<bool(const json&)>& pred, double timeout_s = 60) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    for (;;) {
      for (const auto& e : events())
        if (pred(e)) return e;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "timed out; events so far:\n" << dump();
        return json();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  // The terminal event (result or error) of request `id`.
  json final_of(const std::string& id, double timeout_s = 60) {
    return wait_for([&](const json& e) {
      return (e["type"] == "result" || e["type"] == "error") && e["id"] == id;
    }, timeout_s);
  }
  std::string dump() const {
    std::string s;
    for (const auto& l : out.lines()) s += l + "\n";
    return s;
  }
};

json load_tiny(const std::string& id, const std::string& case_name = "tiny-2f") {
  std::string dir = shared_dir() + "/goldens/" + case_name;
  return {{"type", "load"}, {"id", id}, {"weights", dir + "/weights.safetensors"}, {"config", dir + "/config.json"}};
}

}  // namespace

TEST(ServerSession, BadRequestsGetErrorsAndServingContinues) {
  Session s;
  s.send_raw(R"({"type":"load","id":)");
  s.send_raw(R"({"type":"frobnicate","id":"u1"})");
  s.send_raw(R"({"type":"infer","id":"i1","input_tensor":"/nonexistent/in.safetensors","output":"/tmp/o.safetensors"})");
  s.send_raw(R"({"type":"load","id":"l1","weights":"/nonexistent/w.safetensors","config":"vggt-1b"})");
  s.send_raw(R"({"type":"load","id":"l2","weights":"/nonexistent/w.safetensors","config":"/nonexistent/c.json"})");
  s.send_raw(R"({"type":"ping","id":"p1"})");
  s.server.wait_idle();

  json malformed = s.wait_for([](const json& e) { return e["type"] == "error" && e["id"].is_null(); });
  EXPECT_EQ(malformed["code"], "bad_request");
  EXPECT_EQ(s.final_of("u1")["code"], "unknown_type");
  json i1 = s.final_of("i1");
  EXPECT_EQ(i1["code"], "not_found");
  EXPECT_NE(i1["message"].get<std::string>().find("/nonexistent/in.safetensors"), std::string::npos);
  json l1 = s.final_of("l1");
  EXPECT_EQ(l1["code"], "not_found");
  EXPECT_NE(l1["message"].get<std::string>().find("/nonexistent/w.safetensors"), std::string::npos);
  json l2 = s.final_of("l2");
  EXPECT_EQ(l2["code"], "not_found");
  EXPECT_NE(l2["message"].get<std::string>().find("c.json"), std::string::npos);
  EXPECT_EQ(s.final_of("p1")["type"], "result");
}

TEST(ServerSession, InferBeforeLoadIsNoModel) {
  Session s;
  TempDir tmp;
  std::ofstream(tmp.path + "/in.safetensors") << "x";
  s.send(json{{"type", "infer"}, {"id", "j"}, {"input_tensor", tmp.path + "/in.safetensors"},
              {"output", tmp.path + "/o.safetensors"}});
  EXPECT_EQ(s.final_of("j")["code"], "no_model");
  json st;
  s.send_raw(R"({"type":"status","id":"s"})");
  st = s.final_of("s");
  EXPECT_EQ(st["state"], "idle");
  EXPECT_TRUE(st["model"].is_null());
  EXPECT_GT(st["memory"]["peak_rss_bytes"].get<uint64_t>(), 0u);
}

TEST(ServerSession, LoadsTinyModelRunsTensorJobAndReportsProgressInOrder) {
  REQUIRE_SHARED();
  Session s;
  TempDir tmp;
  std::string dir = shared_dir() + "/goldens/tiny-2f";
  s.send(load_tiny("l"));
  std::string out = tmp.path + "/out.safetensors";
  s.send(json{{"type", "infer"}, {"id", "j"}, {"input_tensor", dir + "/input.safetensors"}, {"output", out}});
  json load = s.final_of("l");
  ASSERT_EQ(load["type"], "result") << s.dump();
  EXPECT_EQ(load["model"]["random_weights"], false);
  EXPECT_GT(load["model"]["weight_bytes"].get<uint64_t>(), 0u);
  json res = s.final_of("j");
  ASSERT_EQ(res["type"], "result") << s.dump();
  EXPECT_EQ(res["output"], out);
  EXPECT_EQ(res["frames"], 2);
  EXPECT_GT(res["memory"]["peak_rss_bytes"].get<uint64_t>(), 0u);
  EXPECT_GE(res["timings"].size(), 3u);

  // Progress of the job: read_input first, write_output last, elapsed never decreasing, and
  // within a stage the steps count up.
  std::vector<json> prog;
  for (const auto& e : s.events())
    if (e["type"] == "progress" && e["id"] == "j") prog.push_back(e);
  ASSERT_GE(prog.size(), 3u) << s.dump();
  EXPECT_EQ(prog.front()["stage"], "read_input");
  EXPECT_EQ(prog.back()["stage"], "write_output");
  for (size_t i = 1; i < prog.size(); ++i) {
    EXPECT_GE(prog[i]["elapsed_ms"].get<double>(), prog[i - 1]["elapsed_ms"].get<double>());
    if (prog[i]["stage"] == prog[i - 1]["stage"]) {
      EXPECT_GT(prog[i]["step"].get<int>(), prog[i - 1]["step"].get<int>());
    }
    EXPECT_LE(prog[i]["step"].get<int>(), prog[i]["total"].get<int>());
  }

  auto reader = vggt::io::CheckpointReader::open(out);
  for (const char* name : {"pose_enc", "depth", "depth_conf", "world_points", "world_points_conf", "extrinsic",
                           "intrinsic", "world_points_from_depth", "images"})
    EXPECT_NE(reader->find(name), nullptr) << name;
  EXPECT_EQ(reader->metadata().at("preprocess"), "tensor");
  EXPECT_EQ(reader->metadata().at("random_weights"), "false");
}

TEST(ServerSession, TruncatedCheckpointAndCorruptImageAreReportedAndServingContinues) {
  REQUIRE_SHARED();
  Session s;
  TempDir tmp;
  std::string dir = shared_dir() + "/goldens/tiny-2f";
  {
    std::ifstream in(dir + "/weights.safetensors", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(tmp.path + "/truncated.safetensors", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    std::ofstream(tmp.path + "/corrupt.png", std::ios::binary) << "\x89PNG\r\n\x1a\n this is not a png";
  }
  s.send(json{{"type", "load"}, {"id", "bad"}, {"weights", tmp.path + "/truncated.safetensors"},
              {"config", dir + "/config.json"}});
  json bad = s.final_of("bad");
  EXPECT_EQ(bad["code"], "bad_checkpoint") << s.dump();
  EXPECT_NE(bad["message"].get<std::string>().find("truncated.safetensors"), std::string::npos);

  s.send(load_tiny("good"));
  ASSERT_EQ(s.final_of("good")["type"], "result") << s.dump();
  s.send(json{{"type", "infer"}, {"id", "img"}, {"images", {tmp.path + "/corrupt.png"}},
              {"output", tmp.path + "/o.safetensors"}});
  json img = s.final_of("img");
  EXPECT_EQ(img["code"], "bad_input") << s.dump();
  EXPECT_NE(img["message"].get<std::string>().find("corrupt.png"), std::string::npos);
  EXPECT_FALSE(exists(tmp.path + "/o.safetensors"));

  s.send(json{{"type", "infer"}, {"id", "ok"}, {"input_tensor", dir + "/input.safetensors"},
              {"output", tmp.path + "/o.safetensors"}});
  EXPECT_EQ(s.final_of("ok")["type"], "result") << s.dump();
}

TEST(ServerSession, CancelStopsARunningJobAndDropsAQueuedOne) {
  REQUIRE_SHARED();
  std::string kitchen = shared_dir() + "/datasets/kitchen/images";
  Session s;
  TempDir tmp;
  s.send(load_tiny("l"));
  // Six 518x350 frames: long enough on the tiny model that the cancel lands mid-forward.
  json imgs = json::array();
  for (int i = 0; i < 6; ++i) imgs.push_back(kitchen + "/0" + std::to_string(i) + ".png");
  s.send(json{{"type", "infer"}, {"id", "long"}, {"images", imgs}, {"output", tmp.path + "/long.safetensors"}});
  s.send(json{{"type", "infer"}, {"id", "queued"}, {"images", imgs}, {"output", tmp.path + "/q.safetensors"}});
  s.send(json{{"type", "infer"}, {"id", "queued"}, {"images", imgs}, {"output", tmp.path + "/q.safetensors"}});
  EXPECT_EQ(s.final_of("queued")["code"], "bad_request");  // duplicate id while queued

  s.wait_for([](const json& e) {
    return e["type"] == "progress" && e["id"] == "long" && e["stage"] != "read_input";
  });
  s.send_raw(R"({"type":"cancel","id":"c1","job":"queued"})");
  s.send_raw(R"({"type":"cancel","id":"c2","job":"long"})");
  EXPECT_EQ(s.final_of("c1")["state"], "queued");
  EXPECT_EQ(s.final_of("c2")["state"], "running");
  json lg = s.final_of("long");
  EXPECT_EQ(lg["code"], "cancelled") << s.dump();
  // Idle as soon as the job's answer is out (no wait): clients act on that answer.
  s.send_raw(R"({"type":"status","id":"st"})");
  EXPECT_EQ(s.final_of("st")["state"], "idle");
  EXPECT_FALSE(exists(tmp.path + "/long.safetensors"));
  EXPECT_FALSE(exists(tmp.path + "/q.safetensors"));
  // No progress for the cancelled job after its error.
  bool after = false;
  for (const auto& e : s.events()) {
    if (e["id"] == "long" && e["type"] == "error") {
      after = true;
    } else if (after) {
      EXPECT_NE(e["id"], "long") << e.dump();
    }
  }
  s.send_raw(R"({"type":"cancel","id":"c3","job":"long"})");
  EXPECT_EQ(s.final_of("c3")["state"], "unknown");
}

TEST(ServerSession, ShutdownFailsQueuedJobsThenAnswers) {
  REQUIRE_SHARED();
  Session s;
  TempDir tmp;
  std::string dir = shared_dir() + "/goldens/tiny-2f";
  s.send(load_tiny("l"));
  for (int i = 0; i < 3; ++i)
    s.send(json{{"type", "infer"}, {"id", "j" + std::to_string(i)}, {"input_tensor", dir + "/input.safetensors"},
                {"output", tmp.path + "/o" + std::to_string(i) + ".safetensors"}});
  EXPECT_FALSE(s.server.handle({R"({"type":"shutdown","id":"bye"})", false}));
  auto ev = s.events();
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back()["id"], "bye");
  EXPECT_EQ(ev.back()["type"], "result");
  // Every request got exactly one terminal event.
  for (std::string id : {"l", "j0", "j1", "j2"}) {
    int n = 0;
    for (const auto& e : ev)
      if (e["id"] == id && (e["type"] == "result" || e["type"] == "error")) ++n;
    EXPECT_EQ(n, 1) << id << "\n" << s.dump();
  }
  s.send(json{{"type", "load"}, {"id", "late"}, {"random", {{"seed", 1}}}});
  EXPECT_EQ(s.final_of("late")["code"], "cancelled");
}

TEST(ServerSession, PerJobOptionsApplyToThatJobOnly) {
  REQUIRE_SHARED();
  Session s;
  TempDir tmp;
  std::string dir = shared_dir() + "/goldens/tiny-2f";
  s.send(load_tiny("l"));
  s.send(json{{"type", "infer"}, {"id", "a"}, {"input_tensor", dir + "/input.safetensors"},
              {"output", tmp.path + "/a.safetensors"},
              {"options", {{"threads", 1}, {"flags", {{"prepack", true}}}}}});
  s.send(json{{"type", "infer"}, {"id", "b"}, {"input_tensor", dir + "/input.safetensors"},
              {"output", tmp.path + "/b.safetensors"}});
  json a = s.final_of("a"), b = s.final_of("b");
  ASSERT_EQ(a["type"], "result") << s.dump();
  ASSERT_EQ(b["type"], "result") << s.dump();
  EXPECT_EQ(a["options"]["threads"], 1);
  EXPECT_EQ(a["options"]["flags"]["prepack"], true);
  EXPECT_EQ(b["options"]["threads"], 0);
  // Every option is listed, on or off, as it ran.
  ASSERT_EQ(b["options"]["flags"].size(), static_cast<size_t>(vggt::kOptionCount));
  for (const auto& [name, on] : b["options"]["flags"].items()) EXPECT_EQ(on, false) << name;
  EXPECT_EQ(a["options"]["flags"].size(), static_cast<size_t>(vggt::kOptionCount));
  auto meta_a = json::parse(vggt::io::CheckpointReader::open(tmp.path + "/a.safetensors")->metadata().at("options"));
  auto meta_b = json::parse(vggt::io::CheckpointReader::open(tmp.path + "/b.safetensors")->metadata().at("options"));
  EXPECT_EQ(meta_a["prepack"], true);
  EXPECT_EQ(meta_b["prepack"], false);
  // The output metadata is the CLI's: the resolved config and the effective option parameters too.
  const auto md = vggt::io::CheckpointReader::open(tmp.path + "/a.safetensors")->metadata();
  EXPECT_EQ(json::parse(md.at("config"))["embed_dim"], json::parse(s.final_of("l")["model"]["config"].dump())["embed_dim"]);
  EXPECT_EQ(md.at("option_params"), "{}");
  EXPECT_EQ(md.at("preprocess"), "tensor");
}

// infer with track_cache, then track requests on the cached run without the aggregator: the
// golden queries give the golden tracks; the cache goes with the next infer or on request.
TEST(ServerSession, TrackOnCachedRunMatchesGoldenAndCacheIsReleased) {
  REQUIRE_SHARED();
  Session s;
  TempDir tmp;
  const std::string dir = shared_dir() + "/goldens/tiny-track-2f";
  s.send(load_tiny("l", "tiny-track-2f"));
  s.send(json{{"type", "track"}, {"id", "early"}, {"run", "r1"}, {"grid", 2}});
  s.send(json{{"type", "infer"}, {"id", "r1"}, {"input_tensor", dir + "/input.safetensors"},
              {"output", tmp.path + "/r1.safetensors"}, {"track_cache", true}});
  EXPECT_EQ(s.final_of("early")["code"], "no_track_cache") << s.dump();
  json r1 = s.final_of("r1");
  ASSERT_EQ(r1["type"], "result") << s.dump();
  const uint64_t bytes = 2ull * (63 * 91 + 31 * 45 + 15 * 22 + 7 * 11) * 32 * 4;
  EXPECT_EQ(r1["track_cache"]["bytes"], bytes);
  EXPECT_EQ(r1["track_cache"]["feature_height"], 63);
  s.send_raw(R"({"type":"status","id":"st"})");
  EXPECT_EQ(s.final_of("st")["track_cache"]["run"], "r1");

  const vggt::Tensor q = [&] {
    auto rd = vggt::io::CheckpointReader::open(dir + "/input.safetensors");
    const auto* t = rd->find("query_points");
    vggt::Tensor out = vggt::Tensor::uninitialized(t->shape);
    vggt::io::convert_to_f32(*t, out.data());
    return out;
  }();
  json pts = json::array();
  for (int64_t i = 0; i < q.dim(0); ++i) pts.push_back({q[2 * i], q[2 * i + 1]});
  s.send(json{{"type", "track"}, {"id", "t1"}, {"run", "r1"}, {"query_points", pts},
              {"output", tmp.path + "/t1.safetensors"}});
  json t1 = s.final_of("t1");
  ASSERT_EQ(t1["type"], "result") << s.dump();
  EXPECT_EQ(t1["frames"], 2);
  EXPECT_EQ(t1["points"], 16);
  EXPECT_TRUE(t1["track_original"].is_null());
  // Only the tracker ran: no encoder/aggregator progress for this job.
  for (const auto& e : s.events())
    if (e["type"] == "progress" && e["id"] == "t1") EXPECT_EQ(e["stage"], "track") << e.dump();
  vggt::Tensor track = vggt::Tensor::uninitialized({2, 16, 2});
  for (int sidx = 0; sidx < 2; ++sidx)
    for (int n = 0; n < 16; ++n)
      for (int k = 0; k < 2; ++k) track[(sidx * 16 + n) * 2 + k] = t1["track"][sidx][n][k].get<float>();
  auto rd = vggt::io::CheckpointReader::open(dir + "/expected.safetensors");
  const auto* et = rd->find("track");
  vggt::Tensor expected = vggt::Tensor::uninitialized(et->shape);
  vggt::io::convert_to_f32(*et, expected.data());
  double disp = 0, mx = 0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    const double d = expected[i] - q[i % 32];
    disp += d * d;
    mx = std::max(mx, std::fabs(static_cast<double>(track[i]) - expected[i]));
  }
  EXPECT_LE(mx, 1e-3 * std::sqrt(disp / expected.numel())) << "track vs golden, relative to the rms displacement";
  auto out = vggt::io::CheckpointReader::open(tmp.path + "/t1.safetensors");
  EXPECT_EQ(out->find("track")->shape, (std::vector<int64_t>{2, 16, 2}));
  EXPECT_EQ(out->metadata().at("run"), "r1");

  // Bad requests name the problem; the cache survives them.
  s.send(json{{"type", "track"}, {"id", "bad"}, {"run", "r1"}, {"query_points", {{500, 1}}}});
  json bad = s.final_of("bad");
  EXPECT_EQ(bad["code"], "bad_request");
  EXPECT_NE(bad["message"].get<std::string>().find("outside frame 0"), std::string::npos) << bad.dump();
  s.send(json{{"type", "track"}, {"id", "orig"}, {"run", "r1"}, {"query_points", {{5, 1}}}, {"query_space", "original"}});
  EXPECT_EQ(s.final_of("orig")["code"], "bad_request");
  s.send(json{{"type", "track"}, {"id", "g"}, {"run", "r1"}, {"grid", 3}});
  json g = s.final_of("g");
  ASSERT_EQ(g["type"], "result") << s.dump();
  EXPECT_EQ(g["points"], 9);

  s.send(json{{"type", "release_track_cache"}, {"id", "rel"}});
  json rel = s.final_of("rel");
  EXPECT_EQ(rel["released"], true);
  EXPECT_EQ(rel["bytes"], bytes);
  s.send(json{{"type", "track"}, {"id", "gone"}, {"run", "r1"}, {"grid", 1}});
  EXPECT_EQ(s.final_of("gone")["code"], "no_track_cache");

  // A new infer replaces the cache (here: with none).
  s.send(json{{"type", "infer"}, {"id", "r2"}, {"input_tensor", dir + "/input.safetensors"},
              {"output", tmp.path + "/r2.safetensors"}, {"track_cache", true}});
  ASSERT_EQ(s.final_of("r2")["type"], "result") << s.dump();
  s.send(json{{"type", "infer"}, {"id", "r3"}, {"input_tensor", dir + "/input.safetensors"},
              {"output", tmp.path + "/r3.safetensors"}});
  ASSERT_EQ(s.final_of("r3")["type"], "result") << s.dump();
  s.send(json{{"type", "track"}, {"id", "old"}, {"run", "r2"}, {"grid", 1}});
  EXPECT_EQ(s.final_of("old")["code"], "no_track_cache");
  s.send_raw(R"({"type":"status","id":"st2"})");
  EXPECT_TRUE(s.final_of("st2")["track_cache"].is_null());
}

TEST(ServerSession, TrackCacheNeedsATrackHead) {
  REQUIRE_SHARED();
  Session s;
  TempDir tmp;
  const std::string dir = shared_dir() + "/goldens/tiny-2f";
  s.send(load_tiny("l"));
  s.send(json{{"type", "infer"}, {"id", "r"}, {"input_tensor", dir + "/input.safetensors"},
              {"output", tmp.path + "/r.safetensors"}, {"track_cache", true}});
  json r = s.final_of("r");
  EXPECT_EQ(r["code"], "unsupported") << s.dump();
  EXPECT_NE(r["message"].get<std::string>().find("track head"), std::string::npos);
}
