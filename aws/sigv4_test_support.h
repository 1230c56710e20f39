// File: aws/sigv4_test_support.h
//
// Shared by the SigV4 tests (aws/sigv4_test.cc) and the DynamoDB signing tests
// (dynamodb/request_signing_test.cc): the AWS SigV4 test suite's fixed time and
// its example credentials. Header-only; for tests only. Thread-safe (values).
#ifndef DYNATRONI_AWS_SIGV4_TEST_SUPPORT_H_
#define DYNATRONI_AWS_SIGV4_TEST_SUPPORT_H_

#include <chrono>
#include <string>
#include <utility>

#include "aws/credentials.h"
#include "core/clock.h"

namespace dynatroni::aws::testing {

// 2015-08-30T12:36:00Z, the AWS test-suite time.
inline const WallTime kSuiteTime = WallTime(std::chrono::sys_days(std::chrono::year(2015) / 8 / 30)) +
                                   std::chrono::hours(12) + std::chrono::minutes(36);

// The suite's example keys; a non-empty token makes them temporary credentials.
inline Credentials ExampleCreds(std::string token = "") {
  Credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = SecretString("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  c.session_token = SecretString(std::move(token));
  c.source = "static";
  return c;
}

}  // namespace dynatroni::aws::testing

#endif  // DYNATRONI_AWS_SIGV4_TEST_SUPPORT_H_
