// Fuzz target: the cluster-item decoder, i.e. what turns DynamoDB items of a
// cluster's partition into the DCS's view (DecodeStoredItem via
// DynamoItemStore, then Dcs::LoadCluster's observation and expiry logic,
// PollLeader's GetItem and the lease writes' returned items).
//
// Input: byte 0 selects the HTTP status (0 = 200), the rest is the body the
// fake DynamoDB answers every request with (Query, GetItem, UpdateItem).
// Foreign or corrupt items must be skipped with a one-line warning; nothing
// may crash, hang or overflow.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dcs/dcs.h"
#include "dcs/dynamo_item_store.h"
#include "fuzz/fuzz_common.h"
#include "http/fake_transport.h"

using namespace dynatroni;  // NOLINT(google-build-using-namespace)

namespace {

template <typename T>
void Check(const Result<T>& r) {
  fuzz::CheckOneLine(r.status());
}

void CheckView(const dcs::ClusterView& view) {
  for (const auto& [key, o] : view.items) {
    DYNATRONI_FUZZ_CHECK(o.item.key == key, key);
    DYNATRONI_FUZZ_CHECK(o.item.live(), "view.items holds only live items: " + key);
    DYNATRONI_FUZZ_CHECK(o.item.version >= 1, "versions are positive: " + key);
    DYNATRONI_FUZZ_CHECK(o.age >= Duration::zero(), "ages are not negative: " + key);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  http::Response response;
  response.status = data[0] == 0 ? 200 : (data[0] % 2 == 0 ? 400 : 500);
  response.body.assign(reinterpret_cast<const char*>(data + 1), size - 1);

  FakeClock clock;
  SeededRandom random(7);
  auto transport = std::make_shared<http::FakeTransport>(&clock, std::chrono::milliseconds(300));
  transport->SetFallback([&response](const http::Request&) { return Result<http::Response>(response); });
  dynamodb::ClientOptions o;
  o.region = "us-east-1";
  o.endpoint = "http://127.0.0.1:8000";
  aws::Credentials creds;
  creds.access_key_id = "AKIDFUZZ";
  creds.secret_access_key = aws::SecretString("fuzz-secret-key");
  o.credentials = aws::MakeStaticProvider(creds);
  o.transport = transport;
  o.clock = &clock;
  o.random = &random;
  o.retry.max_attempts = 2;
  auto client = dynamodb::Client::Create(std::move(o));
  if (!client.ok()) fuzz::Fail("Client::Create", client.status().ToString());

  std::vector<std::string> warnings;
  auto store = std::make_shared<dcs::DynamoItemStore>(
      std::shared_ptr<dynamodb::Client>(std::move(client).value()), "patroni",
      [&warnings](const std::string& w) { warnings.push_back(w); });

  dcs::DcsOptions opts;
  opts.partition = "cluster";
  opts.name = "node1";
  opts.session = "session-1";
  opts.store = store;
  opts.clock = &clock;
  // ttl 9 s, retry_timeout 3 s: with 300 ms per request at most ~10 Query pages per call.
  opts.timing = *dcs::Timing::FromFailoverTime(std::chrono::seconds(9));
  auto dcs_or = dcs::Dcs::Create(std::move(opts));
  if (!dcs_or.ok()) fuzz::Fail("Dcs::Create", dcs_or.status().ToString());
  dcs::Dcs& d = **dcs_or;

  auto first = d.LoadCluster("");
  Check(first);
  if (first.ok()) CheckView(*first);
  clock.Advance(std::chrono::seconds(10));
  auto second = d.LoadCluster("");
  Check(second);
  if (second.ok()) CheckView(*second);

  Check(d.PollLeader("leader", 1));
  (void)d.PlanWatch("leader", 1);
  Check(d.AcquireLeader("leader"));
  Check(d.RenewLeader("leader", 1));
  Check(d.SetValue("config", "{}", 1));
  Check(d.TouchMember("members/node1", "{}"));
  Check(d.ReleaseLeader("leader"));
  (void)d.Lease("leader");

  for (const auto& w : warnings) fuzz::CheckOneLine(InvalidArgument(w));
  return 0;
}
