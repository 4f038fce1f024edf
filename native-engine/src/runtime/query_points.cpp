#include "runtime/query_points.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/limits.h"
#include "io/checkpoint.h"
#include "io/file_util.h"
#include "io/json_guard.h"
#include "model/track_head.h"

namespace vggt::runtime {

Tensor parse_query_points_json(const std::string& text, const std::string& source) {
  const nlohmann::json j = io::parse_json_bounded(text.data(), text.data() + text.size(), source, "query points",
                                                  limits::kMaxConfigBytes, limits::kMaxJsonDepth);
  if (!j.is_array()) throw std::runtime_error(source + ": expected a JSON array of [x, y] pairs");
  if (j.empty() || j.size() > static_cast<size_t>(kMaxQueryPoints))
    throw std::runtime_error(source + ": need 1 to " + std::to_string(kMaxQueryPoints) + " query points, got " +
                             std::to_string(j.size()));
  Tensor q({static_cast<int64_t>(j.size()), 2});
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& p = j[i];
    if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number())
      throw std::runtime_error(source + ": query point " + std::to_string(i) + " is not an [x, y] pair of numbers");
    q[2 * i] = p[0].get<float>();
    q[2 * i + 1] = p[1].get<float>();
  }
  return q;
}

Tensor load_query_points(const std::string& path) {
  {
    // A JSON array of [x, y] pairs, or else a checkpoint holding `query_points`.
    uint64_t size = 0;
    const int fd = io::open_regular_file(path, "query points file", &size);
    char head[64];
    const ssize_t n = ::read(fd, head, sizeof head);
    ::close(fd);
    ssize_t i = 0;
    while (i < n && std::isspace(static_cast<unsigned char>(head[i]))) ++i;
    if (i < n && head[i] == '[')
      return parse_query_points_json(io::read_regular_file(path, "query points file", limits::kMaxConfigBytes), path);
  }
  auto r = io::CheckpointReader::open(path);
  const io::TensorInfo* t = r->find("query_points");
  if (!t) throw std::runtime_error(path + ": no tensor named 'query_points' (and not a JSON array of [x, y])");
  if (t->shape.size() != 2 || t->shape[1] != 2)
    throw std::runtime_error(path + ": 'query_points' must be [N, 2], got " + shape_to_string(t->shape));
  if (t->shape[0] < 1 || t->shape[0] > kMaxQueryPoints)
    throw std::runtime_error(path + ": need 1 to " + std::to_string(kMaxQueryPoints) + " query points, got " +
                             std::to_string(t->shape[0]));
  Tensor q = Tensor::uninitialized(t->shape);
  io::convert_to_f32(*t, q.data());
  return q;
}

Tensor queries_from_original(const Tensor& q, const preprocess::FrameInfo& f, const std::string& source) {
  Tensor out = Tensor::uninitialized(q.shape());
  for (int64_t i = 0; i < q.dim(0); ++i) {
    double u, v;
    preprocess::from_original(f, q[2 * i], q[2 * i + 1], u, v);
    // Inside the part of the frame that holds image content (pixel centres).
    if (!(u >= f.content_x0 - 0.5 && u <= f.content_x0 + f.content_width - 0.5 && v >= f.content_y0 - 0.5 &&
          v <= f.content_y0 + f.content_height - 0.5))
      throw std::runtime_error(source + ": query point " + std::to_string(i) + " (" + std::to_string(q[2 * i]) + ", " +
                               std::to_string(q[2 * i + 1]) + ") of " + f.path +
                               " falls outside the part of the image the model sees (a crop or the padding)");
    // The outer half pixel maps just outside the first/last pixel centre: clamp onto it.
    u = std::min<double>(std::max<double>(u, f.content_x0), f.content_x0 + f.content_width - 1);
    v = std::min<double>(std::max<double>(v, f.content_y0), f.content_y0 + f.content_height - 1);
    out[2 * i] = static_cast<float>(u), out[2 * i + 1] = static_cast<float>(v);
  }
  return out;
}

}  // namespace vggt::runtime
