#include "core/status.h"

namespace dynatroni {
namespace {

// Enforces the one-line contract of Status::message() for every message,
// whatever text (from a server, a file or the user) was built into it: CR,
// LF and TAB become a space, other control characters "\xNN" (fuzzing found
// messages quoting numbers, names and values with raw newlines).
std::string OneLine(std::string m) {
  auto is_control = [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  };
  size_t first = 0;
  while (first < m.size() && !is_control(m[first])) ++first;
  if (first == m.size()) return m;
  std::string out = m.substr(0, first);
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = first; i < m.size(); ++i) {
    char c = m[i];
    if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else if (is_control(c)) {
      auto u = static_cast<unsigned char>(c);
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kPermissionDenied:
      return "PermissionDenied";
    case StatusCode::kUnavailable:
      return "Unavailable";
    case StatusCode::kDeadlineExceeded:
      return "DeadlineExceeded";
    case StatusCode::kUnknownOutcome:
      return "UnknownOutcome";
    case StatusCode::kMalformedResponse:
      return "MalformedResponse";
    case StatusCode::kFailedPrecondition:
      return "FailedPrecondition";
    case StatusCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

Status::Status(StatusCode code, std::string message) {
  if (code == StatusCode::kOk) return;
  rep_ = std::make_shared<const Rep>(Rep{code, OneLine(std::move(message)), {}, 0, std::nullopt});
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return rep_ ? rep_->message : kEmpty;
}

const std::string& Status::aws_error() const {
  static const std::string kEmpty;
  return rep_ ? rep_->aws_error : kEmpty;
}

const CallDetail* Status::call_detail() const {
  if (!rep_ || !rep_->call) return nullptr;
  return &*rep_->call;
}

Status& Status::WithAwsError(std::string aws_error, int http_status) {
  if (!rep_) return *this;
  rep_ = std::make_shared<const Rep>(
      Rep{rep_->code, rep_->message, std::move(aws_error), http_status, rep_->call});
  return *this;
}

Status& Status::WithCallDetail(CallDetail detail) {
  if (!rep_) return *this;
  rep_ = std::make_shared<const Rep>(
      Rep{rep_->code, rep_->message, rep_->aws_error, rep_->http_status, std::move(detail)});
  return *this;
}

Status& Status::WithCauseOf(const Status& cause) {
  if (!rep_ || !cause.rep_) return *this;
  const bool take_error = rep_->aws_error.empty() && rep_->http_status == 0;
  rep_ = std::make_shared<const Rep>(Rep{
      rep_->code, rep_->message, take_error ? cause.rep_->aws_error : rep_->aws_error,
      take_error ? cause.rep_->http_status : rep_->http_status, rep_->call ? rep_->call : cause.rep_->call});
  return *this;
}

Status Status::Annotate(std::string_view context) const {
  if (!rep_) return *this;
  Status s;
  std::string msg = OneLine(std::string(context));
  msg += ": ";
  msg += rep_->message;
  s.rep_ = std::make_shared<const Rep>(
      Rep{rep_->code, std::move(msg), rep_->aws_error, rep_->http_status, rep_->call});
  return s;
}

std::string Status::ToString() const {
  if (!rep_) return "OK";
  std::string out(StatusCodeName(rep_->code));
  out += ": ";
  out += rep_->message;
  if (!rep_->aws_error.empty() || rep_->http_status != 0) {
    out += " [";
    out += rep_->aws_error.empty() ? "-" : rep_->aws_error;
    if (rep_->http_status != 0) out += ", HTTP " + std::to_string(rep_->http_status);
    out += "]";
  }
  return out;
}

Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
Status UnknownOutcome(std::string m) { return {StatusCode::kUnknownOutcome, std::move(m)}; }
Status MalformedResponse(std::string m) { return {StatusCode::kMalformedResponse, std::move(m)}; }
Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

}  // namespace dynatroni
