// File: python/src/module.cc
//
// dynatroni._core: the nanobind extension exposing the C++ core to Python.
//
// Conventions: arguments are converted to plain C++ values first, then the GIL
// is released for the C++ work, and re-acquired only to build Python results.
// A non-OK dynatroni::Status raises ValueError carrying Status::message()
// (never credentials).
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include "aws/credentials.h"
#include "aws/sigv4.h"
#include "core/clock.h"
#include "core/status.h"
#include "dynamodb/request_signing.h"
#include "http/transport.h"

namespace nb = nanobind;

namespace dynatroni::python {
namespace {

// Parses the n ASCII digits at s[pos, pos+n); -1 when any is not a digit.
int ParseDigits(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// "YYYYMMDDTHHMMSSZ" (UTC) -> WallTime.
Result<WallTime> ParseAmzDate(std::string_view s) {
  const auto bad = [&] {
    return InvalidArgument("amz_date: expected YYYYMMDDTHHMMSSZ (e.g. 20150830T123600Z), got '" +
                           std::string(s.substr(0, 32)) + "'");
  };
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return bad();
  const int year = ParseDigits(s, 0, 4);
  const int month = ParseDigits(s, 4, 2);
  const int day = ParseDigits(s, 6, 2);
  const int hour = ParseDigits(s, 9, 2);
  const int minute = ParseDigits(s, 11, 2);
  const int second = ParseDigits(s, 13, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return bad();
  const std::chrono::year_month_day ymd{std::chrono::year{year},
                                        std::chrono::month{static_cast<unsigned>(month)},
                                        std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 59) return bad();
  const auto tp = std::chrono::sys_days{ymd} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
                  std::chrono::seconds{second};
  return WallTime{std::chrono::duration_cast<WallTime::duration>(tp.time_since_epoch())};
}

// Runs without the GIL: only C++ values in and out.
Result<http::Request> SignDynamoDbRequest(const std::string& endpoint, const std::string& operation,
                                          std::string body, const std::string& region,
                                          const std::string& access_key_id,
                                          const std::string& secret_access_key,
                                          const std::string& session_token, const std::string& amz_date) {
  DYNATRONI_ASSIGN_OR_RETURN(const WallTime when, ParseAmzDate(amz_date));
  aws::Credentials creds;
  creds.access_key_id = access_key_id;
  creds.secret_access_key = aws::SecretString(secret_access_key);
  creds.session_token = aws::SecretString(session_token);
  creds.source = "python";
  aws::Signer signer(region, std::string(dynamodb::kSigningService));
  return dynamodb::SignDynamoDbRequest(signer, endpoint, operation, std::move(body), creds, when);
}

nb::dict SignDynamoDbRequestPy(const std::string& endpoint, const std::string& operation, std::string body,
                               const std::string& region, const std::string& access_key_id,
                               const std::string& secret_access_key,
                               const std::optional<std::string>& session_token, const std::string& amz_date) {
  auto signed_request = [&] {
    nb::gil_scoped_release no_gil;
    return SignDynamoDbRequest(endpoint, operation, std::move(body), region, access_key_id, secret_access_key,
                               session_token.value_or(""), amz_date);
  }();
  if (!signed_request.ok()) throw std::invalid_argument(signed_request.status().message());
  nb::dict headers;
  for (const auto& [name, value] : signed_request->headers) {
    headers[nb::str(name.data(), name.size())] = nb::str(value.data(), value.size());
  }
  nb::dict out;
  out["method"] = nb::str(signed_request->method.data(), signed_request->method.size());
  const std::string url = signed_request->url();
  out["url"] = nb::str(url.data(), url.size());
  out["headers"] = std::move(headers);
  out["body"] = nb::bytes(signed_request->body.data(), signed_request->body.size());
  return out;
}

}  // namespace
}  // namespace dynatroni::python

namespace dynatroni::python {
void BindDcs(nb::module_& m);  // python/src/dcs_bindings.cc
}  // namespace dynatroni::python

NB_MODULE(_core, m) {
  m.doc() = "Dynatroni's C++ core (SigV4 signing, DynamoDB client) for Python.";
  m.attr("__version__") = DYNATRONI_VERSION;
  m.def("sign_dynamodb_request", &dynatroni::python::SignDynamoDbRequestPy, nb::arg("endpoint"),
        nb::arg("operation"), nb::arg("body"), nb::arg("region"), nb::arg("access_key_id"),
        nb::arg("secret_access_key"), nb::arg("session_token").none(), nb::arg("amz_date"),
        "Signs a DynamoDB JSON-protocol request (POST /, x-amz-json-1.0) with SigV4 at the fixed\n"
        "time amz_date ('YYYYMMDDTHHMMSSZ', UTC). Returns {'method', 'url', 'headers', 'body'}.\n"
        "session_token None (or '') means long-term keys. Raises ValueError on invalid input.\n"
        "The GIL is released while signing.");
  dynatroni::python::BindDcs(m);
}
