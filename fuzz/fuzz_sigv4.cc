// Fuzz target: SigV4 canonicalisation (canonical URI, query and headers).
//
// Input: a raw HTTP/1.1 request as in aws/testdata/sigv4/*/request.txt
// ("METHOD target HTTP/1.1", header lines "Name:value", a blank line, the
// body). It is signed with fixed credentials in both header and query form;
// signing must be deterministic, produce 64 hex digits and never put the
// secret into any stage. The first line also goes through the HTTP-date
// parser and, as an endpoint, through SignDynamoDbRequest (the method as the
// operation, the body as the JSON body), whose directly built signature must
// equal the general algorithm's for the same request (differential oracle).
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/sigv4.h"
#include "dynamodb/request_signing.h"
#include "fuzz/fuzz_common.h"

using namespace dynatroni;  // NOLINT(google-build-using-namespace)

namespace {

constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYFUZZSECRET";
constexpr char kToken[] = "FuzzSessionTokenNeverPrinted";

void CheckStages(const aws::SigningStages& s) {
  DYNATRONI_FUZZ_CHECK(s.signature.size() == 64, s.signature);
  DYNATRONI_FUZZ_CHECK(s.signature.find_first_not_of("0123456789abcdef") == std::string::npos, s.signature);
  for (std::string_view stage : {std::string_view(s.canonical_request), std::string_view(s.string_to_sign),
                                 std::string_view(s.authorization), std::string_view(s.query)}) {
    fuzz::CheckNoSecret(stage, kSecret);
  }
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Differential oracle: dynamodb::SignDynamoDbRequest (dynamodb/request_signing.h) builds the canonical
// request of its fixed request shape directly (and falls back to the general algorithm only for unusual
// input); ComputeSignature is the general algorithm of the AWS spec (aws/testdata/sigv4 suite). Signing the
// request it produced (every header but authorization, POST /, its body) with ComputeSignature must give the
// same Authorization value, byte for byte.
void CheckAgreesWithTheGeneralPath(const http::Request& req, const std::string& region,
                                   const aws::Credentials& creds, WallTime when) {
  aws::SigningInput in;
  in.method = req.method;
  in.path = "/";
  in.region = region;
  in.service = "dynamodb";
  in.time = when;
  in.payload = req.body;
  std::string authorization;
  for (const auto& [name, value] : req.headers) {
    if (name == "authorization") {
      authorization = value;
    } else {
      in.headers.emplace_back(name, value);
    }
  }
  DYNATRONI_FUZZ_CHECK(req.method == "POST" && req.url().ends_with("/"), req.method + " " + req.url());
  auto general = aws::ComputeSignature(in, creds);
  DYNATRONI_FUZZ_CHECK(general.ok(), "the general path refuses what the DynamoDB signer signed: " +
                                         general.status().ToString());
  DYNATRONI_FUZZ_CHECK(general->authorization == authorization,
                       "the DynamoDB signer and the general SigV4 path disagree:\n  direct:  " +
                           authorization + "\n  general: " + general->authorization +
                           "\n  canonical request (general):\n" + general->canonical_request);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // The secret may only show up in the output when the input itself carries it.
  if (in.find(kSecret) != std::string_view::npos) return 0;
  // Request line.
  size_t eol = in.find('\n');
  std::string_view first = in.substr(0, eol);
  if (!first.empty() && first.back() == '\r') first.remove_suffix(1);
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : in.substr(eol + 1);

  aws::SigningInput input;
  size_t sp1 = first.find(' ');
  input.method = std::string(first.substr(0, sp1));
  std::string_view target = sp1 == std::string_view::npos ? std::string_view() : first.substr(sp1 + 1);
  if (size_t sp2 = target.rfind(" HTTP/"); sp2 != std::string_view::npos) target = target.substr(0, sp2);
  size_t q = target.find('?');
  input.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) input.query = std::string(target.substr(q + 1));

  // Headers until a blank line; a line starting with space/tab continues the last value.
  while (!rest.empty()) {
    size_t e = rest.find('\n');
    std::string_view line = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    if ((line[0] == ' ' || line[0] == '\t') && !input.headers.empty()) {
      input.headers.back().second += "\n" + std::string(line);
      continue;
    }
    size_t colon = line.find(':');
    input.headers.emplace_back(std::string(line.substr(0, colon)),
                               colon == std::string_view::npos ? "" : std::string(line.substr(colon + 1)));
  }
  input.payload = std::string(rest);
  input.region = "us-east-1";
  input.service = "service";
  input.time = WallTime(std::chrono::seconds(1440938160));
  input.normalize_path = (size & 1) == 0;

  aws::Credentials creds;
  creds.access_key_id = "AKIDEXAMPLE";
  creds.secret_access_key = aws::SecretString(kSecret);
  auto a = aws::ComputeSignature(input, creds);
  fuzz::CheckOneLine(a.status());
  if (a.ok()) {
    CheckStages(*a);
    auto b = aws::ComputeSignature(input, creds);
    DYNATRONI_FUZZ_CHECK(b.ok() && b->signature == a->signature, "signing is deterministic");
  }

  creds.session_token = aws::SecretString(kToken);
  input.location = aws::SignatureLocation::kQuery;
  auto c = aws::ComputeSignature(input, creds);
  fuzz::CheckOneLine(c.status());
  if (c.ok()) CheckStages(*c);

  auto date = aws::ParseHttpDate(first);
  fuzz::CheckOneLine(date.status());

  // The DynamoDB signer: endpoint = the first line, operation = the method, body = the payload; the
  // region, session token and signing time vary with the input's size.
  static constexpr const char* kRegions[] = {"us-east-1", "eu-west-3", "cn-north-1", " us-east-1"};
  static constexpr const char* kTokens[] = {"", kToken, "  spaced\ttoken ", "tok\nen", "tok,en"};
  const std::string region = kRegions[(size / 5) % 4];
  creds.session_token = aws::SecretString(kTokens[size % 5]);
  const WallTime when = WallTime(std::chrono::seconds(1440938160 + static_cast<int64_t>(size % 997) * 86399));
  aws::Signer signer(region, std::string(dynamodb::kSigningService));
  // Endpoint and operation: the first line with the method (as before); "ENDPOINT OPERATION" when the
  // line starts with a scheme; and "http(s)://" + each Host header with the x-amz-target's operation
  // (or GetItem), so most requests with a Host header reach the signer.
  std::vector<std::pair<std::string, std::string>> calls = {{std::string(first), input.method}};
  if (first.starts_with("http") && sp1 != std::string_view::npos) {
    calls.emplace_back(input.method, std::string(target.substr(0, target.find(' '))));
  }
  std::string op = "GetItem";
  for (const auto& [name, value] : input.headers) {
    if (Lower(name) == "x-amz-target" && value.find('.') != std::string::npos)
      op = value.substr(value.find('.') + 1);
  }
  for (const auto& [name, value] : input.headers) {
    if (Lower(name) == "host") calls.emplace_back(((size & 2) != 0 ? "http://" : "https://") + value, op);
  }
  for (const auto& [endpoint, operation] : calls) {
    auto req = dynamodb::SignDynamoDbRequest(signer, endpoint, operation, input.payload, creds, when);
    fuzz::CheckOneLine(req.status());
    if (!req.ok()) continue;
    for (const auto& [name, value] : req->headers) fuzz::CheckNoSecret(value, kSecret);
    CheckAgreesWithTheGeneralPath(*req, region, creds, when);
    // A second request hits the signing-key (and endpoint) cache: the same signature.
    auto again = dynamodb::SignDynamoDbRequest(signer, endpoint, operation, input.payload, creds, when);
    DYNATRONI_FUZZ_CHECK(again.ok() && again->headers == req->headers,
                         "the signing-key cache changes the signature");
  }
  return 0;
}
