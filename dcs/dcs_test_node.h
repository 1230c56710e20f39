// File: dcs/dcs_test_node.h
//
// Unit-test support (not part of the library): a Dcs for the scope "batman"
// on a FakeClock with the failover_time dial (default 30 s: ttl 30, loop_wait
// 10) and the failover-key polls off unless a test asks for them. `random`
// (default SystemRandom) draws the session id and the failover-poll jitter.
#ifndef DYNATRONI_DCS_DCS_TEST_NODE_H_
#define DYNATRONI_DCS_DCS_TEST_NODE_H_

#include <memory>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "dcs/dcs.h"

namespace dynatroni::dcs {

inline std::unique_ptr<Dcs> MakeTestNode(std::shared_ptr<ItemStore> store, const std::string& name,
                                         FakeClock* clock, Duration failover_time = std::chrono::seconds(30),
                                         Duration handover_poll = Duration::zero(),
                                         Random* random = nullptr) {
  DcsOptions o;
  o.partition = "batman";
  o.name = name;
  o.store = std::move(store);
  o.clock = clock;
  o.random = random;
  o.timing = *Timing::FromFailoverTime(failover_time);
  o.handover_poll_interval = handover_poll;
  auto d = Dcs::Create(std::move(o));
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return std::move(d).value();
}

}  // namespace dynatroni::dcs

#endif  // DYNATRONI_DCS_DCS_TEST_NODE_H_
