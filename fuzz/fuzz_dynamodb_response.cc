// Fuzz target: the DynamoDB client's response and error decoding.
//
// Input: byte 0 selects the operation, byte 1 the HTTP status and headers,
// the rest is the response body the (fake) server sends to every request.
// Drives the real Client (retries, crc32, error classification, typed result
// decoding) on a FakeClock, so retries and pagination cost no real time.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "dynamodb/client.h"
#include "fuzz/fuzz_common.h"
#include "http/fake_transport.h"

using namespace dynatroni;            // NOLINT(google-build-using-namespace)
using namespace dynatroni::dynamodb;  // NOLINT(google-build-using-namespace)

namespace {

constexpr int kStatuses[] = {200, 200, 200, 400, 400, 403, 404, 413, 429, 500, 503, 301};

aws::Credentials Creds() {
  aws::Credentials c;
  c.access_key_id = "AKIDFUZZEXAMPLE";
  c.secret_access_key = aws::SecretString("fuzzSecretKeyDoNotPrint0123456789");
  c.session_token = aws::SecretString("fuzzSessionTokenDoNotPrint");
  return c;
}

Item Key() { return {{"pk", AttributeValue::S("p")}, {"sk", AttributeValue::S("k")}}; }

// False when the fuzzer put a secret into the server's answer itself (then echoing it is not a leak).
bool g_check_secrets = true;

void Check(const Status& s) {
  fuzz::CheckOneLine(s);
  if (!g_check_secrets) return;
  fuzz::CheckNoSecret(s.message(), "fuzzSecretKeyDoNotPrint0123456789");
  fuzz::CheckNoSecret(s.message(), "fuzzSessionTokenDoNotPrint");
}

template <typename T>
void Check(const Result<T>& r) {
  if (!r.ok()) Check(r.status());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t op = data[0];
  const uint8_t flags = data[1];
  std::string body(reinterpret_cast<const char*>(data + 2), size - 2);
  g_check_secrets = body.find("DoNotPrint") == std::string::npos;

  http::Response response;
  response.status = kStatuses[(flags & 0x0f) % (sizeof(kStatuses) / sizeof(kStatuses[0]))];
  response.headers.emplace_back("content-type", "application/x-amz-json-1.0");
  if ((flags & 0x10) != 0) {
    response.headers.emplace_back(
        "x-amz-crc32", std::to_string(crc32_z(0L, reinterpret_cast<const Bytef*>(body.data()), body.size())));
  }
  if ((flags & 0x20) != 0) response.headers.emplace_back("x-amzn-errortype", body.substr(0, 64));
  if ((flags & 0x40) != 0) response.headers.emplace_back("date", "Wed, 21 Oct 2015 07:28:00 GMT");
  if ((flags & 0x80) != 0) response.headers.emplace_back("x-amz-crc32", body.substr(0, 12));
  response.body = std::move(body);

  FakeClock clock;
  SeededRandom random(1);
  auto transport = std::make_shared<http::FakeTransport>(&clock, std::chrono::milliseconds(200));
  transport->SetFallback([&response](const http::Request&) { return Result<http::Response>(response); });

  ClientOptions o;
  o.region = "us-east-1";
  o.endpoint = "http://127.0.0.1:8000";
  o.credentials = aws::MakeStaticProvider(Creds());
  o.transport = transport;
  o.clock = &clock;
  o.random = &random;
  o.retry.max_attempts = 3;
  auto created = Client::Create(std::move(o));
  if (!created.ok()) fuzz::Fail("Client::Create", created.status().ToString());
  Client& client = **created;
  Deadline deadline = Deadline::After(clock, std::chrono::seconds(2));

  switch (op % 10) {
    case 0: {
      GetItemRequest req{"table", Key(), true, "", {}};
      Check(client.GetItem(req, deadline));
      break;
    }
    case 1: {
      PutItemRequest req;
      req.table = "table";
      req.item = Key();
      req.condition.condition = "attribute_not_exists(pk)";
      req.return_values = ReturnValues::kAllOld;
      Check(client.PutItem(req, deadline));
      break;
    }
    case 2: {
      UpdateItemRequest req;
      req.table = "table";
      req.key = Key();
      req.update_expression = "SET #v = :v";
      req.condition.names["#v"] = "v";
      req.condition.values[":v"] = AttributeValue::N(1);
      req.return_values = ReturnValues::kAllNew;
      Check(client.UpdateItem(req, deadline));
      break;
    }
    case 3: {
      DeleteItemRequest req;
      req.table = "table";
      req.key = Key();
      Check(client.DeleteItem(req, deadline));
      break;
    }
    case 4: {
      QueryRequest req;
      req.table = "table";
      req.key_condition.condition = "pk = :p";
      req.key_condition.values[":p"] = AttributeValue::S("p");
      auto r = client.Query(req, deadline);
      Check(r);
      if (r.ok()) DYNATRONI_FUZZ_CHECK(r->pages >= 1, "a successful Query has at least one page");
      break;
    }
    case 5: {
      std::vector<TransactWriteAction> actions(2);
      actions[0].table = "table";
      actions[0].item_or_key = Key();
      actions[1].kind = TransactWriteAction::Kind::kConditionCheck;
      actions[1].table = "table";
      actions[1].item_or_key = Key();
      actions[1].condition.condition = "attribute_exists(pk)";
      auto r = client.TransactWriteItems(actions, "token", deadline);
      Check(r);
      if (r.ok() && r->cancelled) {
        DYNATRONI_FUZZ_CHECK(
            r->cancellation_items.size() <= r->cancellation_codes.size() || r->cancellation_codes.empty(),
            "cancellation items without codes");
      }
      break;
    }
    case 6:
      Check(client.DescribeTable("table", deadline));
      break;
    case 7: {
      BatchWriteRequest req;
      req.table = "table";
      req.puts = {Key()};
      req.delete_keys = {Key()};
      Check(client.BatchWriteItem(req, deadline));
      break;
    }
    case 8:
      Check(client.DescribeTimeToLive("table", deadline));
      break;
    case 9:
      Check(client.WaitUntilActive("table", deadline, std::chrono::milliseconds(200)));
      break;
  }
  DYNATRONI_FUZZ_CHECK(!deadline.Expired(clock) || clock.Now() - deadline.when() < std::chrono::seconds(1),
                       "a call overran its deadline by a second or more");
  return 0;
}
