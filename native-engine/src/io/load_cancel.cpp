#include "io/load_cancel.h"

namespace vggt::io {

namespace {
thread_local const std::atomic<bool>* t_flag = nullptr;
}

ScopedLoadCancel::ScopedLoadCancel(const std::atomic<bool>* flag) : previous_(t_flag) { t_flag = flag; }
ScopedLoadCancel::~ScopedLoadCancel() { t_flag = previous_; }

void poll_load_cancel() {
  if (t_flag && t_flag->load(std::memory_order_relaxed)) throw LoadCancelled();
}

}  // namespace vggt::io
