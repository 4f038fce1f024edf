#include <algorithm>
#include <chrono>
#include <cstdio>
#include <dirent.h>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_setup.h"
#include "ops/gemm.h"
#include "preprocess/preprocess.h"

namespace vggt::cli {

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The machine's own fp32 GEMM rate on a VGGT-sized product, measured in this run.
double measure_sgemm_gflops() {
  const int64_t M = 1860, N = 4096, K = 1024;
  std::vector<float> A(M * K, 0.01f), B(N * K, 0.02f), C(M * N);
  ops::gemm(M, N, K, A.data(), K, B.data(), K, true, C.data(), N);
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    double t0 = now_ms();
    ops::gemm(M, N, K, A.data(), K, B.data(), K, true, C.data(), N);
    best = std::min(best, now_ms() - t0);
  }
  return 2.0 * M * N * K / (best * 1e6);
}

std::vector<std::string> list_images(const std::string& dir, int limit) {
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  if (!d) throw std::runtime_error(dir + ": cannot open image folder");
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    auto lower = n;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower.size() > 4 && (lower.ends_with(".png") || lower.ends_with(".jpg") || lower.ends_with(".jpeg")))
      files.push_back(dir + "/" + n);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  if (limit > 0 && static_cast<int>(files.size()) > limit) files.resize(limit);
  if (files.empty()) throw std::runtime_error(dir + ": no PNG or JPEG images");
  return files;
}

}  // namespace

int bench_main(int argc, char** argv) {
  Args a(argc, argv, 2, {"json"});
  a.check_known({"weights", "config", "frames", "images", "threads", "repeats", "json", "options", "height", "width"});
  const int frames = a.get_int("frames", 2), repeats = std::max(1, a.get_int("repeats", 1));
  EngineOptions opts = parse_options(a.get("options"), a.get_int("threads", 0));
  Tensor images;
  std::string input_desc;
  if (a.has("images")) {
    auto batch = preprocess::load_and_preprocess(list_images(a.get("images"), frames), preprocess::Mode::Crop);
    images = batch.images;
    input_desc = a.get("images");
  } else {
    const int H = a.get_int("height", 350), W = a.get_int("width", 518);
    images = Tensor({frames, 3, H, W});
    for (int64_t i = 0; i < images.numel(); ++i) images[i] = static_cast<float>((i * 7919) % 255) / 255.f;
    input_desc = "synthetic";
  }
  const double sgemm = measure_sgemm_gflops();
  double t0 = now_ms();
  auto model = make_model(a.get("weights"), a.get("config", "vggt-1b"), opts);
  const double load_ms = now_ms() - t0;

  std::vector<double> totals;
  Predictions last;
  for (int r = 0; r < repeats; ++r) {
    t0 = now_ms();
    last = model->forward(images);
    totals.push_back(now_ms() - t0);
  }
  std::vector<double> sorted = totals;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];

  nlohmann::json j = {{"isa", isa_summary()},
                      {"threads", opts.threads > 0 ? opts.threads : 0},
                      {"weights", model->random_weights() ? "random (benchmark mode)" : a.get("weights")},
                      {"random_weights", model->random_weights()},
                      {"config", a.get("config", "vggt-1b")},
                      {"input", input_desc},
                      {"frames", images.dim(0)},
                      {"height", images.dim(2)},
                      {"width", images.dim(3)},
                      {"options", nlohmann::json::parse(options_to_json(opts))},
                      {"load_ms", load_ms},
                      {"latency_ms", totals},
                      {"median_ms", median},
                      {"peak_rss_bytes", peak_rss_bytes()},
                      {"weight_bytes", model->weight_bytes()},
                      {"machine_sgemm_gflops", sgemm}};
  nlohmann::json stages = nlohmann::json::array();
  for (auto& t : last.timings) {
    nlohmann::json s = {{"stage", t.stage}, {"ms", t.ms}, {"gflop", t.gflop}};
    if (t.gflop > 0 && t.ms > 0) {
      s["gflops"] = t.gflop / (t.ms / 1000.0);
      s["fraction_of_sgemm"] = t.gflop / (t.ms / 1000.0) / sgemm;
    }
    stages.push_back(s);
  }
  j["stages"] = stages;
  if (a.has("json")) {
    std::printf("%s\n", j.dump(1).c_str());
    return 0;
  }
  std::printf("vggt-engine bench — ISA %s, weights: %s\n", isa_summary().c_str(),
              model->random_weights() ? "RANDOM (benchmark mode; full VGGT-1B architecture)" : a.get("weights").c_str());
  std::printf("input: %s, %lld frames of %lldx%lld; machine fp32 GEMM rate: %.0f GFLOP/s\n", input_desc.c_str(),
              static_cast<long long>(images.dim(0)), static_cast<long long>(images.dim(3)),
              static_cast<long long>(images.dim(2)), sgemm);
  std::printf("%-30s %10s %10s %10s %8s\n", "stage", "ms", "GFLOP", "GFLOP/s", "of GEMM");
  for (auto& s : stages) {
    const double gf = s.value("gflops", 0.0);
    std::printf("%-30s %10.0f %10.1f %10.1f %7.0f%%\n", s["stage"].get<std::string>().c_str(), s["ms"].get<double>(),
                s["gflop"].get<double>(), gf, 100.0 * s.value("fraction_of_sgemm", 0.0));
  }
  std::printf("total: median %.0f ms over %d run(s); load %.0f ms; peak RSS %.2f GiB; weights %.2f GiB\n", median,
              repeats, load_ms, peak_rss_bytes() / 1073741824.0, model->weight_bytes() / 1073741824.0);
  return 0;
}

}  // namespace vggt::cli
