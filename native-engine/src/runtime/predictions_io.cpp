#include "runtime/predictions_io.h"
#include "core/version.h"

#include "io/safetensors.h"

namespace vggt {

void write_predictions(const std::string& path, const Predictions& p, const Tensor& images,
                       const std::map<std::string, std::string>& metadata, bool include_debug,
                       const std::vector<std::pair<std::string, Tensor>>& extra) {
  std::vector<io::TensorToWrite> t = {
      io::f32_entry("pose_enc", p.pose_enc),
      io::f32_entry("depth", p.depth),
      io::f32_entry("depth_conf", p.depth_conf),
      io::f32_entry("world_points", p.world_points),
      io::f32_entry("world_points_conf", p.world_points_conf),
      io::f32_entry("extrinsic", p.extrinsic),
      io::f32_entry("intrinsic", p.intrinsic),
      io::f32_entry("world_points_from_depth", p.world_points_from_depth),
  };
  if (!images.empty()) t.push_back(io::f32_entry("images", images));
  for (auto [name, tensor] : {std::pair<const char*, const Tensor*>{"track", &p.track}, {"vis", &p.vis}, {"conf", &p.conf}})
    if (!tensor->empty()) t.push_back(io::f32_entry(name, *tensor));
  for (auto& [name, tensor] : extra) t.push_back(io::f32_entry(name, tensor));
  if (include_debug)
    for (auto& [name, tensor] : p.debug) t.push_back(io::f32_entry(name, tensor));
  std::map<std::string, std::string> meta = metadata;
  meta["format"] = "vggt-engine-output/1";
  meta["engine_version"] = engine_version();
  io::write_safetensors(path, t, meta);
}

}  // namespace vggt
