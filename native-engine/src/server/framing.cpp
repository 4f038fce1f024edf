#include "server/framing.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vggt::server {

namespace {
void push_line(std::string text, bool oversized, std::vector<LineDecoder::Line>& out) {
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty() && !oversized) return;
  out.push_back({std::move(text), oversized});
}
}  // namespace

void LineDecoder::feed(const char* data, size_t n, std::vector<Line>& out) {
  size_t i = 0;
  while (i < n) {
    const void* nl = std::memchr(data + i, '\n', n - i);
    size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - data) : n;
    if (!dropping_) {
      size_t room = max_ - buf_.size();
      size_t take = end - i;
      if (take > room) {
        // Keep a prefix for the error message; report the line once, drop the rest.
        buf_.append(data + i, std::min(take, room));
        buf_.resize(std::min<size_t>(buf_.size(), 200));
        push_line(std::move(buf_), true, out);
        buf_.clear();
        dropping_ = true;
      } else {
        buf_.append(data + i, take);
      }
    }
    if (!nl) break;
    if (!dropping_) {
      push_line(std::move(buf_), false, out);
      buf_.clear();
    }
    dropping_ = false;
    i = end + 1;
  }
}

void LineDecoder::finish(std::vector<Line>& out) {
  if (!dropping_) push_line(std::move(buf_), false, out);
  buf_.clear();
  dropping_ = false;
}

void LineWriter::write_line(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (broken_) return;
  std::string framed = line;
  framed.push_back('\n');
  const char* p = framed.data();
  size_t left = framed.size();
  while (left > 0) {
    ssize_t w = ::write(fd_, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      broken_ = true;
      return;
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
}

bool LineWriter::broken() const {
  std::lock_guard<std::mutex> lock(mu_);
  return broken_;
}

void CaptureWriter::write_line(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  lines_.push_back(line);
}

std::vector<std::string> CaptureWriter::lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

}  // namespace vggt::server
