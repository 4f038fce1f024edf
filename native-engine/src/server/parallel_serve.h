// `vggt-engine serve --parallel ulysses|ring --degree N` under mpirun: rank 0 speaks the
// protocol (engine_server.h) and sends each model job to the other ranks as a JSON command
// broadcast over MPI; the other ranks run run_follower() and never write to stdout.
// Commands: {"cmd":"load", ...} (+ error agreement), {"cmd":"infer", ...} followed by the
// images tensor, {"cmd":"unload"}, {"cmd":"exit"}.
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/tensor.h"
#include "model/sequence_parallel.h"
#include "model/vggt_model.h"

namespace vggt::server {

// Rank 0 side.
void send_command(const SequenceParallel& sp, const nlohmann::json& cmd);
void send_images(const SequenceParallel& sp, Tensor& images);  // collective; followers allocate

// Followers: obey commands until "exit". Returns the process exit code.
int run_follower(const SequenceParallel& sp);

}  // namespace vggt::server
