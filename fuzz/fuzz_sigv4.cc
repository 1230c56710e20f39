// Fuzz target: SigV4 canonicalisation (canonical URI, query and headers).
//
// Input: a raw HTTP/1.1 request as in aws/testdata/sigv4/*/request.txt
// ("METHOD target HTTP/1.1", header lines "Name:value", a blank line, the
// body). It is signed with fixed credentials in both header and query form;
// signing must be deterministic, produce 64 hex digits and never put the
// secret into any stage. The first line also goes through the HTTP-date
// parser and, as an endpoint, through SignDynamoDbRequest.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aws/sigv4.h"
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

  aws::Signer signer("us-east-1");
  auto req = signer.SignDynamoDbRequest(first, input.method, input.payload, creds, input.time);
  fuzz::CheckOneLine(req.status());
  if (req.ok()) {
    for (const auto& [name, value] : req->headers) fuzz::CheckNoSecret(value, kSecret);
  }
  return 0;
}
