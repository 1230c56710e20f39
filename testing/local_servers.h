// File: testing/local_servers.h
//
// Test support: the local DynamoDB servers that tools/local_dynamodb.py started
// for this test run. It exports DYNATRONI_TEST_ENDPOINTS as
// "moto=http://127.0.0.1:PORT,dynalite=http://127.0.0.1:PORT".
//
// Integration tests are parameterized over LocalServers(); when the variable
// is missing the list is empty and RequireLocalServers() fails the test
// (never a silent skip).
#ifndef DYNATRONI_TESTING_LOCAL_SERVERS_H_
#define DYNATRONI_TESTING_LOCAL_SERVERS_H_

#include <string>
#include <vector>

namespace dynatroni::testing {

struct LocalServer {
  std::string name;      // "moto" or "dynalite"
  std::string endpoint;  // "http://127.0.0.1:PORT"
  // Feature gaps of the implementation, so tests can assert the client's
  // behaviour where the server lacks a feature.
  bool supports_transactions = true;
  bool supports_return_old_on_condition_failure = true;
  bool supports_ttl = true;
};

// Parsed from DYNATRONI_TEST_ENDPOINTS; empty when unset.
std::vector<LocalServer> LocalServers();

// A table name unique to this process and call, valid for DynamoDB.
std::string UniqueTableName(const std::string& prefix);

}  // namespace dynatroni::testing

#endif  // DYNATRONI_TESTING_LOCAL_SERVERS_H_
