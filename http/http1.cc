#include "http/http1.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/optional/optional.hpp>

#include "http/ascii.h"

namespace dynatroni::http::http1 {
namespace {

namespace beast_http = boost::beast::http;

constexpr size_t kMinChunkedTailBytes = 5;  // "0\r\n\r\n"

// Beast's HTTP/1 response parser filling a Response directly. Not
// beast::http::response_parser: its basic_fields list a repeated field right
// after the earlier ones of that name (not in arrival order), and in Boost
// 1.74 its body limit is skipped for a Content-Length body that arrives with
// the head (finish_header's error is lost when put() goes on eagerly), so the
// string body reserved the announced length ("Content-Length: 100000000000000"
// and one body byte threw std::bad_alloc). The limit is checked here too.
class MessageParser final : public beast_http::basic_parser<false> {
 public:
  explicit MessageParser(size_t max_body_bytes) : max_body_bytes_(max_body_bytes) {}

  Response& response() { return response_; }

 private:
  using string_view = boost::beast::string_view;
  using error_code = boost::beast::error_code;

  void on_request_impl(beast_http::verb /*method*/, string_view /*method_str*/, string_view /*target*/,
                       int /*version*/, error_code& /*ec*/) override {}

  void on_response_impl(int code, string_view /*reason*/, int /*version*/, error_code& ec) override {
    if (code < 100) {  // "000".."099" are three digits but no status code (Response::status 0 = none)
      ec = beast_http::error::bad_status;
      return;
    }
    response_.status = code;
  }

  // Header fields and (chunked) trailer fields, in arrival order.
  void on_field_impl(beast_http::field /*name*/, string_view name_string, string_view value,
                     error_code& /*ec*/) override {
    response_.headers.emplace_back(AsciiLower(std::string_view(name_string.data(), name_string.size())),
                                   std::string(value.data(), value.size()));
  }

  void on_header_impl(error_code& /*ec*/) override {}

  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& ec) override {
    if (!content_length) return;
    if (*content_length > max_body_bytes_) {
      ec = beast_http::error::body_limit;
      return;
    }
    response_.body.reserve(static_cast<size_t>(*content_length));
  }

  size_t on_body_impl(string_view body, error_code& ec) override { return Append(body, ec); }

  void on_chunk_header_impl(std::uint64_t /*size*/, string_view /*ext*/, error_code& /*ec*/) override {}

  size_t on_chunk_body_impl(std::uint64_t /*remain*/, string_view body, error_code& ec) override {
    return Append(body, ec);
  }

  void on_finish_impl(error_code& /*ec*/) override {}

  size_t Append(string_view body, error_code& ec) {
    if (body.size() > max_body_bytes_ - response_.body.size()) {
      ec = beast_http::error::body_limit;
      return 0;
    }
    response_.body.append(body.data(), body.size());
    return body.size();
  }

  size_t max_body_bytes_;
  Response response_;
};

}  // namespace

void AppendRequest(const Request& request, const RequestContext& context, std::string* out) {
  size_t size = request.method.size() + context.target.size() + 96 + context.host.size() +
                context.user_agent.size() + request.body.size();
  for (const auto& [name, value] : request.headers) size += name.size() + value.size() + 4;
  out->reserve(out->size() + size);

  out->append(request.method).append(" ").append(context.target).append(" HTTP/1.1\r\n");
  bool has_host = false;
  bool has_user_agent = false;
  bool has_accept = false;
  for (const auto& [name, value] : request.headers) {
    if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding")) continue;
    has_host = has_host || EqualsIgnoreCase(name, "host");
    has_user_agent = has_user_agent || EqualsIgnoreCase(name, "user-agent");
    has_accept = has_accept || EqualsIgnoreCase(name, "accept");
    out->append(name).append(value.empty() ? ":" : ": ").append(value).append("\r\n");
  }
  if (!has_host) out->append("Host: ").append(context.host).append("\r\n");
  if (!has_user_agent && !context.user_agent.empty()) {
    out->append("User-Agent: ").append(context.user_agent).append("\r\n");
  }
  if (!has_accept) out->append("Accept: */*\r\n");
  const bool bodiless_method = request.method == "GET" || request.method == "HEAD";
  if (!bodiless_method || !request.body.empty()) {
    out->append("Content-Length: ").append(std::to_string(request.body.size())).append("\r\n");
  }
  out->append("\r\n").append(request.body);
}

struct ResponseReader::Parser {
  std::optional<MessageParser> p;
};

ResponseReader::ResponseReader(bool head_request, size_t max_body_bytes)
    : head_request_(head_request), max_body_bytes_(max_body_bytes), parser_(std::make_unique<Parser>()) {}

ResponseReader::~ResponseReader() = default;

Status ResponseReader::Feed(std::string_view data) {
  if (data.empty()) return Status::Ok();
  received_any_ = true;
  if (done_) {
    leftover_ += data.size();
    return Status::Ok();
  }
  if (pending_.empty()) return Consume(data);  // common case: parse straight from the caller's bytes
  std::string joined = std::move(pending_);
  pending_.clear();
  joined.append(data);
  // Boost 1.74's chunked parser, given the last chunk "0\r\n" again, asserts
  // it has at least 5 bytes (basic_parser.ipp, parse_chunk_header: `n >= 5`;
  // fine for "\r\n0\r\n" after a data chunk, not for an empty chunked body).
  // Held-back bytes in the body are always a chunk line or the trailers, and
  // the shortest end of a chunked body, "0\r\n\r\n", is 5 bytes: wait for them.
  if (joined.size() < kMinChunkedTailBytes && parser_->p.has_value() && parser_->p->is_header_done()) {
    pending_ = std::move(joined);
    return Status::Ok();
  }
  return Consume(joined);
}

Status ResponseReader::Consume(std::string_view input) {
  while (!input.empty() && !done_) {
    if (!parser_->p.has_value()) {
      auto& p = parser_->p.emplace(max_body_bytes_);
      p.eager(true);
      p.header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
      p.body_limit(static_cast<std::uint64_t>(max_body_bytes_));
      if (head_request_) p.skip(true);
    }
    auto& p = *parser_->p;
    boost::beast::error_code ec;
    const size_t used = p.put(boost::asio::const_buffer(input.data(), input.size()), ec);
    input.remove_prefix(used);
    if (ec == beast_http::error::need_more) {
      if (input.size() > kMaxHeaderBytes) {
        return MalformedResponse("the response head is longer than 65536 bytes");
      }
      pending_.assign(input);
      return Status::Ok();
    }
    if (ec) return MalformedResponse("malformed HTTP response: " + ec.message());
    if (!p.is_done()) {
      if (used == 0) return MalformedResponse("malformed HTTP response: the parser made no progress");
      continue;
    }
    if (p.response().status / 100 == 1) {
      // An interim response (100 Continue, 103 Early Hints): the final one follows.
      parser_->p.reset();
      continue;
    }
    done_ = true;
    leftover_ = input.size();
  }
  return Status::Ok();
}

Status ResponseReader::FeedEof() {
  eof_ = true;
  if (done_) return Status::Ok();
  if (!parser_->p.has_value() || !parser_->p->is_header_done()) {
    return MalformedResponse(received_any_ ? "the connection closed in the middle of the response head"
                                           : "the connection closed before any response byte");
  }
  boost::beast::error_code ec;
  parser_->p->put_eof(ec);
  if (ec || !parser_->p->is_done()) {
    return MalformedResponse("the connection closed in the middle of the response body");
  }
  done_ = true;
  return Status::Ok();
}

bool ResponseReader::keep_alive() const {
  if (!done_ || eof_ || leftover_ != 0 || !parser_->p.has_value()) return false;
  const auto& p = *parser_->p;
  return p.keep_alive() && !p.need_eof();
}

Response ResponseReader::TakeResponse() { return std::move(parser_->p->response()); }

}  // namespace dynatroni::http::http1
