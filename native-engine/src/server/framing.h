// Newline-delimited JSON framing for the serve protocol (docs/ENGINE-PROTOCOL.md).
#pragma once
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace vggt::server {

// Splits a byte stream into lines. A line longer than `max_line_bytes` is not buffered:
// it is reported once as oversized and its remaining bytes are dropped up to the next '\n',
// so a runaway client cannot exhaust memory or desynchronise the stream.
class LineDecoder {
 public:
  struct Line {
    std::string text;        // without the trailing '\n' (and '\r', if any)
    bool oversized = false;  // text then holds only the first bytes, for the error message
  };

  explicit LineDecoder(size_t max_line_bytes = 16u << 20) : max_(max_line_bytes) {}
  // Appends bytes; complete lines are appended to `out`. Empty lines are skipped.
  void feed(const char* data, size_t n, std::vector<Line>& out);
  // End of stream: a final line without '\n' is still a request.
  void finish(std::vector<Line>& out);

 private:
  size_t max_;
  std::string buf_;
  bool dropping_ = false;  // inside an oversized line
};

// Writes whole lines to a file descriptor; thread-safe, so the reader and the job worker can
// both emit events without interleaving bytes. A failed write (client gone) sets broken().
class LineWriter {
 public:
  explicit LineWriter(int fd) : fd_(fd) {}
  virtual ~LineWriter() = default;
  virtual void write_line(const std::string& line);
  bool broken() const;

 protected:
  mutable std::mutex mu_;

 private:
  int fd_;
  bool broken_ = false;
};

// Collects lines in memory (tests).
class CaptureWriter : public LineWriter {
 public:
  CaptureWriter() : LineWriter(-1) {}
  void write_line(const std::string& line) override;
  std::vector<std::string> lines() const;

 private:
  std::vector<std::string> lines_;
};

}  // namespace vggt::server
