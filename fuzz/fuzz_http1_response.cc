// Fuzz target: the HTTP/1.1 response parser of the own-framing transport
// path (http1::ResponseReader, Boost.Beast underneath).
//
// Input: byte 0 flags (bit 0: the request was HEAD; bit 1: a 64-byte body
// limit instead of 1 MiB; bit 2: no end of connection after the bytes),
// bytes 1-3 the sizes (1..256, used in turn) of the pieces the rest is fed
// in; the rest is what the server sent. The same bytes are fed whole, in
// those pieces and byte by byte (short inputs), then the end of the
// connection: every split must give the same outcome. Inputs stay under the
// 64 KiB head limit, which bounds only the bytes a reader holds back between
// Feed calls (so a longer chunk-size line or trailer section passes fed whole).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_common.h"
#include "http/http1.h"

using namespace dynatroni;  // NOLINT(google-build-using-namespace)

namespace {

struct Outcome {
  bool ok = true;  // no call failed
  bool done = false;
  bool keep_alive = false;
  size_t leftover = 0;
  http::Response response;
};

void CheckError(const Status& s) {
  fuzz::CheckOneLine(s, /*printable=*/true);
  DYNATRONI_FUZZ_CHECK(s.code() == StatusCode::kMalformedResponse, s.ToString());
}

Outcome Parse(std::string_view bytes, const std::vector<size_t>& sizes, bool head_request, size_t max_body,
              bool eof) {
  http::http1::ResponseReader reader(head_request, max_body);
  DYNATRONI_FUZZ_CHECK(!reader.received_any() && !reader.done() && !reader.keep_alive(), "a fresh reader");
  Outcome out;
  for (size_t i = 0; !bytes.empty(); ++i) {
    const size_t n = std::min(bytes.size(), sizes[i % sizes.size()]);
    const bool was_done = reader.done();
    const size_t leftover_before = reader.leftover_bytes();
    Status s = reader.Feed(bytes.substr(0, n));
    DYNATRONI_FUZZ_CHECK(reader.received_any(), "received_any() after a non-empty Feed");
    if (was_done) {
      DYNATRONI_FUZZ_CHECK(s.ok() && reader.leftover_bytes() == leftover_before + n,
                           "bytes after a complete response are counted as leftovers");
    }
    if (!s.ok()) {
      CheckError(s);
      out.ok = false;
      break;
    }
    bytes.remove_prefix(n);
  }
  if (out.ok && eof) {
    const bool was_done = reader.done();
    Status s = reader.FeedEof();
    if (!s.ok()) {
      CheckError(s);
      DYNATRONI_FUZZ_CHECK(!was_done && !reader.done(), "FeedEof fails only for an incomplete response");
      out.ok = false;
    }
    DYNATRONI_FUZZ_CHECK(!reader.keep_alive(), "no keep-alive once the peer closed");
  }
  out.done = reader.done();
  out.keep_alive = reader.keep_alive();
  out.leftover = reader.leftover_bytes();
  if (!out.done) {
    DYNATRONI_FUZZ_CHECK(!out.keep_alive, "keep_alive() before the response is complete");
    return out;
  }
  DYNATRONI_FUZZ_CHECK(!out.keep_alive || out.leftover == 0, "keep-alive with leftover bytes");
  out.response = reader.TakeResponse();
  const http::Response& r = out.response;
  DYNATRONI_FUZZ_CHECK(r.status >= 200 && r.status <= 999, std::to_string(r.status));
  DYNATRONI_FUZZ_CHECK(r.body.size() <= max_body, "body over the limit");
  if (head_request || r.status == 204 || r.status == 304) DYNATRONI_FUZZ_CHECK(r.body.empty(), "a body");
  for (const auto& [name, value] : r.headers) {
    DYNATRONI_FUZZ_CHECK(!name.empty(), "an empty header name");
    for (char c : name) DYNATRONI_FUZZ_CHECK(c < 'A' || c > 'Z', "header name not lower-cased: " + name);
    DYNATRONI_FUZZ_CHECK(value.find_first_of("\r\n") == std::string::npos, "CR/LF in a header value");
  }
  return out;
}

void CheckSame(const Outcome& a, const Outcome& b, bool eof, const char* what) {
  DYNATRONI_FUZZ_CHECK(a.done == b.done, what);
  // A bad byte in the head is refused as soon as Beast parses it, which (in
  // pieces) may be only once the blank line ending the head has arrived: until
  // the end of the connection, an error on one side may be "need more" on the
  // other. Which call failed, and its message, may differ too.
  if (eof) DYNATRONI_FUZZ_CHECK(a.ok == b.ok, what);
  if (!a.done) return;
  DYNATRONI_FUZZ_CHECK(a.keep_alive == b.keep_alive, what);
  DYNATRONI_FUZZ_CHECK(a.leftover == b.leftover, what);
  DYNATRONI_FUZZ_CHECK(a.response.status == b.response.status, what);
  DYNATRONI_FUZZ_CHECK(a.response.headers == b.response.headers, what);
  DYNATRONI_FUZZ_CHECK(a.response.body == b.response.body, what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4 || size > 32768) return 0;
  const uint8_t flags = data[0];
  const bool head_request = (flags & 0x01) != 0;
  const size_t max_body = (flags & 0x02) != 0 ? 64 : size_t{1} << 20;
  const bool eof = (flags & 0x04) == 0;
  const std::vector<size_t> pieces = {size_t{data[1]} + 1, size_t{data[2]} + 1, size_t{data[3]} + 1};
  const std::string_view bytes(reinterpret_cast<const char*>(data + 4), size - 4);

  const Outcome whole = Parse(bytes, {bytes.size() + 1}, head_request, max_body, eof);
  CheckSame(Parse(bytes, pieces, head_request, max_body, eof), whole, eof, "fed in pieces != fed whole");
  if (bytes.size() <= 1024)
    CheckSame(Parse(bytes, {1}, head_request, max_body, eof), whole, eof, "byte by byte != whole");
  return 0;
}
