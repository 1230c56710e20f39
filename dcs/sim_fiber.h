// File: dcs/sim_fiber.h
//
// A stackful coroutine for the deterministic simulations (test support only,
// never linked into dynatroni_core). The lease simulation runs each simulated
// node's ordinary synchronous code (the real dcs::Dcs, DynamoItemStore and
// dynamodb::Client) on its own Fiber; the simulated transport and clock
// Suspend() the fiber while a request is in flight or the node sleeps, and the
// scheduler Resume()s it at the simulated instant the reply arrives. So the
// calls of different nodes interleave at their simulated instants exactly,
// with one OS thread and no real time.
//
// Built on ucontext (swapcontext, ~1 us per switch). Under AddressSanitizer
// every switch is announced (__sanitizer_start/finish_switch_fiber), so
// stack-use-after-return detection and leak checks work across fibers.
//
// Thread-safety: none. A Fiber is created, resumed and destroyed by one
// thread; Suspend() is only called from inside a running fiber.
#ifndef DYNATRONI_DCS_SIM_FIBER_H_
#define DYNATRONI_DCS_SIM_FIBER_H_

#include <ucontext.h>

#include <cstddef>
#include <functional>

namespace dynatroni::dcs::sim {

class Fiber {
 public:
  // The stack is mmap'ed with a guard page below it; `stack_bytes` 0 picks a
  // default large enough for the client stack (bigger under sanitizers).
  explicit Fiber(std::function<void()> body, size_t stack_bytes = 0);
  // The body must have finished (or never started): a suspended fiber's
  // stack objects would never be destroyed.
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Runs the fiber until it calls Suspend() or its body returns. Must not be
  // called from inside a fiber.
  void Resume();
  // From inside the running fiber: returns to the Resume() that started this
  // slice; continues when the fiber is resumed again.
  static void Suspend();
  // The fiber running now, or nullptr on the scheduler's own stack.
  static Fiber* Current();

  [[nodiscard]] bool finished() const { return finished_; }
  [[nodiscard]] bool started() const { return started_; }

 private:
  static void Entry();
  void SwitchOut(bool finishing);

  std::function<void()> body_;
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  void* stack_ = nullptr;
  size_t stack_bytes_ = 0;
  ucontext_t context_{};
  ucontext_t caller_{};
  bool started_ = false;
  bool finished_ = false;
  // AddressSanitizer bookkeeping (unused otherwise).
  void* fiber_fake_stack_ = nullptr;
  const void* caller_stack_bottom_ = nullptr;
  size_t caller_stack_size_ = 0;
};

}  // namespace dynatroni::dcs::sim

#endif  // DYNATRONI_DCS_SIM_FIBER_H_
