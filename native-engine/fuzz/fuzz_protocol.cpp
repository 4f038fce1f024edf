// serve's protocol: the line framing (fed in pieces, as reads arrive) and request parsing.
#include <algorithm>
#include <cstdint>
#include <exception>
#include <vector>

#include "server/framing.h"
#include "server/protocol.h"

using namespace vggt::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // First byte: the chunk size reads are split into; a small line cap exercises the oversized path.
  const size_t chunk = 1 + data[0] % 64;
  LineDecoder dec(4096);
  std::vector<LineDecoder::Line> lines;
  for (size_t pos = 1; pos < size; pos += chunk)
    dec.feed(reinterpret_cast<const char*>(data) + pos, std::min(chunk, size - pos), lines);
  dec.finish(lines);
  for (const auto& line : lines) {
    if (line.oversized) continue;
    std::string id;
    try {
      Request r = parse_request(line.text, &id);
      // Applying the parsed options must never meet a name or value the parser let through
      // unchecked (it looks them up without checking again).
      vggt::EngineOptions o;
      apply_options_spec(o, r.load.options);
      apply_options_spec(o, r.infer.options);
    } catch (const std::exception&) {
    }
  }
  return 0;
}
