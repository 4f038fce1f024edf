// The test process's peak resident size, for tests that bound what one call may allocate.
#pragma once

namespace vggt::testing {

// VmHWM in KiB (-1 where /proc is unreadable).
long peak_rss_kib();
// VmRSS in KiB, now (-1 where /proc is unreadable).
long rss_kib();
// Resets the peak to the current RSS (/proc/self/clear_refs "5"); false where refused.
bool reset_peak_rss();

}  // namespace vggt::testing
