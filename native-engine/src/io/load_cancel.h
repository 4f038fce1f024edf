// Cancelling a checkpoint load: the server's job worker installs its cancel flag for the
// duration of a load; the readers poll it in their long loops (pickle VM, state-dict walk).
#pragma once
#include <atomic>
#include <stdexcept>

namespace vggt::io {

struct LoadCancelled : std::runtime_error {
  LoadCancelled() : std::runtime_error("cancelled") {}
};

// Installs `flag` for loads on this thread until destroyed.
class ScopedLoadCancel {
 public:
  explicit ScopedLoadCancel(const std::atomic<bool>* flag);
  ~ScopedLoadCancel();
  ScopedLoadCancel(const ScopedLoadCancel&) = delete;
  ScopedLoadCancel& operator=(const ScopedLoadCancel&) = delete;

 private:
  const std::atomic<bool>* previous_;
};

// Throws LoadCancelled when this thread's installed flag is set.
void poll_load_cancel();

}  // namespace vggt::io
