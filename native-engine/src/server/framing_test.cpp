#include "server/framing.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

using vggt::server::LineDecoder;
using vggt::server::LineWriter;

namespace {
std::vector<LineDecoder::Line> feed_all(LineDecoder& d, const std::vector<std::string>& chunks) {
  std::vector<LineDecoder::Line> out;
  for (const auto& c : chunks) d.feed(c.data(), c.size(), out);
  return out;
}
}  // namespace

TEST(ServerFraming, SplitsLinesAcrossChunkBoundaries) {
  LineDecoder d;
  auto lines = feed_all(d, {"{\"a\":", "1}\n{\"b\"", ":2}\n{\"c\":3}", "\n"});
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].text, "{\"a\":1}");
  EXPECT_EQ(lines[1].text, "{\"b\":2}");
  EXPECT_EQ(lines[2].text, "{\"c\":3}");
  for (const auto& l : lines) EXPECT_FALSE(l.oversized);
}

TEST(ServerFraming, StripsCarriageReturnAndSkipsBlankLines) {
  LineDecoder d;
  auto lines = feed_all(d, {"\n\r\n{\"x\":1}\r\n\n"});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].text, "{\"x\":1}");
}

TEST(ServerFraming, FinishFlushesAnUnterminatedLastLine) {
  LineDecoder d;
  auto lines = feed_all(d, {"{\"a\":1}\n{\"tail\":true}"});
  ASSERT_EQ(lines.size(), 1u);
  d.finish(lines);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].text, "{\"tail\":true}");
}

TEST(ServerFraming, OversizedLineIsReportedOnceAndTheStreamResynchronises) {
  LineDecoder d(16);
  std::string big(40, 'x');
  // The long line arrives in three chunks; the next request must still be read intact.
  auto lines = feed_all(d, {big.substr(0, 10), big.substr(10, 20), big.substr(30) + "\n{\"ok\":1}\n"});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0].oversized);
  EXPECT_EQ(lines[0].text, std::string(16, 'x'));  // prefix kept for the error message
  EXPECT_FALSE(lines[1].oversized);
  EXPECT_EQ(lines[1].text, "{\"ok\":1}");
}

TEST(ServerFraming, LineOfExactlyTheLimitIsAccepted) {
  LineDecoder d(8);
  auto lines = feed_all(d, {"12345678\n"});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_FALSE(lines[0].oversized);
  EXPECT_EQ(lines[0].text, "12345678");
}

TEST(ServerFraming, WriterEmitsWholeLinesAndNoticesAClosedReader) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  LineWriter w(fds[1]);
  w.write_line("{\"type\":\"log\"}");
  char buf[64] = {};
  ssize_t n = read(fds[0], buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "{\"type\":\"log\"}\n");
  EXPECT_FALSE(w.broken());
  close(fds[0]);
  signal(SIGPIPE, SIG_IGN);  // as serve_main does: a gone client is EPIPE, not death
  w.write_line("{}");
  EXPECT_TRUE(w.broken());
  close(fds[1]);
}
