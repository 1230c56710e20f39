#include "aws/providers/web_identity.h"

#include <utility>

#include "aws/providers/sts.h"
#include "aws/providers/util.h"

namespace dynatroni::aws {
namespace {

using providers_internal::CallDeadline;
using providers_internal::CallSts;
using providers_internal::DefaultTransport;
using providers_internal::GetEnv;
using providers_internal::ReadSmallFile;
using providers_internal::StsCall;
using providers_internal::Trim;
using providers_internal::WipeString;

class WebIdentityProvider final : public CredentialsProvider {
 public:
  explicit WebIdentityProvider(WebIdentityOptions o) : o_(std::move(o)) {}

  Result<Credentials> Resolve(Deadline deadline) override {
    Clock& clock = o_.clock != nullptr ? *o_.clock : *SystemClock::Instance();
    std::string token_file =
        !o_.token_file.empty() ? o_.token_file : GetEnv(o_.env, "AWS_WEB_IDENTITY_TOKEN_FILE").value_or("");
    std::string role_arn = !o_.role_arn.empty() ? o_.role_arn : GetEnv(o_.env, "AWS_ROLE_ARN").value_or("");
    if (token_file.empty() && role_arn.empty()) {
      return NotFound("AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set");
    }
    if (token_file.empty()) return NotFound("AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
    if (role_arn.empty()) return NotFound("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");

    std::string session = !o_.role_session_name.empty()
                              ? o_.role_session_name
                              : GetEnv(o_.env, "AWS_ROLE_SESSION_NAME").value_or("");
    if (session.empty()) session = DefaultRoleSessionName(clock);

    std::shared_ptr<http::Transport> transport = o_.transport;
    if (!transport) {
      auto t = DefaultTransport();
      if (!t.ok()) return t.status();
      transport = *t;
    }
    const std::string region = StsRegion(o_.region, "", o_.env);
    auto endpoint = ResolveStsEndpoint(o_.sts_endpoint, region, o_.env);
    if (!endpoint.ok()) return endpoint.status();

    // Re-read at every call: EKS rotates the token file.
    auto token = ReadSmallFile(token_file, "web identity token file (AWS_WEB_IDENTITY_TOKEN_FILE)");
    if (!token.ok()) {
      Status st = token.status();
      // A missing file is a configuration error here, not "does not apply".
      if (st.code() == StatusCode::kNotFound) st = InvalidArgument(st.message());
      return st;
    }
    StsCall call;
    call.action = "AssumeRoleWithWebIdentity";
    call.endpoint = *endpoint;
    call.region = region;
    call.params = {
        {"RoleArn", role_arn}, {"RoleSessionName", session}, {"WebIdentityToken", std::string(Trim(*token))}};
    WipeString(*token);
    if (call.params.back().second.empty()) {
      return InvalidArgument("web identity token file " + token_file + " is empty");
    }
    auto creds = CallSts(*transport, clock, call, CallDeadline(deadline, clock, o_.sts_timeout),
                         "STS AssumeRoleWithWebIdentity for " + role_arn);
    WipeString(call.params.back().second);
    if (!creds.ok()) return creds.status();
    creds->source = o_.source;
    return creds;
  }

  [[nodiscard]] std::string name() const override { return "web-identity"; }

 private:
  const WebIdentityOptions o_;
};

}  // namespace

std::shared_ptr<CredentialsProvider> MakeWebIdentityProvider(WebIdentityOptions options) {
  return std::make_shared<WebIdentityProvider>(std::move(options));
}

}  // namespace dynatroni::aws
