#include "testing/local_servers.h"

#include <gtest/gtest.h>

namespace dynatroni::testing {
namespace {

// Guards against a run where the wrapper did not start the servers: every
// other integration test is parameterized over LocalServers() and would
// otherwise silently instantiate nothing.
TEST(LocalServers, BothLocalDynamoDbServersAreConfigured) {
  auto servers = LocalServers();
  ASSERT_EQ(servers.size(), 2u) << "run under tools/local_dynamodb.py (DYNATRONI_TEST_ENDPOINTS unset)";
  EXPECT_EQ(servers[0].name, "moto");
  EXPECT_EQ(servers[1].name, "dynalite");
}

}  // namespace
}  // namespace dynatroni::testing
