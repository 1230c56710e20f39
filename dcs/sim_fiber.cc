#include "dcs/sim_fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#define DYNATRONI_SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DYNATRONI_SIM_ASAN 1
#endif
#endif

#ifdef DYNATRONI_SIM_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace dynatroni::dcs::sim {
namespace {

thread_local Fiber* current_fiber = nullptr;
// The fiber being entered for the first time (makecontext passes no pointer).
thread_local Fiber* starting_fiber = nullptr;

#ifdef DYNATRONI_SIM_ASAN
constexpr size_t kDefaultStack = size_t{4} << 20;
#else
constexpr size_t kDefaultStack = size_t{512} << 10;
#endif

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "sim::Fiber: %s\n", what);
  std::abort();
}

}  // namespace

Fiber::Fiber(std::function<void()> body, size_t stack_bytes) : body_(std::move(body)) {
  const auto page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  stack_bytes_ = ((stack_bytes == 0 ? kDefaultStack : stack_bytes) + page - 1) / page * page;
  mapping_bytes_ = stack_bytes_ + page;
  mapping_ = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping_ == MAP_FAILED) Die("cannot map a stack");
  // Guard page below the stack (stacks grow down): an overflow faults.
  if (mprotect(mapping_, page, PROT_NONE) != 0) Die("cannot protect the guard page");
  stack_ = static_cast<char*>(mapping_) + page;
  if (getcontext(&context_) != 0) Die("getcontext failed");
  context_.uc_stack.ss_sp = stack_;
  context_.uc_stack.ss_size = stack_bytes_;
  context_.uc_link = nullptr;
  makecontext(&context_, &Fiber::Entry, 0);
}

Fiber::~Fiber() {
  if (started_ && !finished_) Die("destroyed while suspended");
  munmap(mapping_, mapping_bytes_);
}

Fiber* Fiber::Current() { return current_fiber; }

void Fiber::Resume() {
  if (current_fiber != nullptr) Die("Resume() called from inside a fiber");
  if (finished_) Die("Resume() of a finished fiber");
  current_fiber = this;
  if (!started_) {
    started_ = true;
    starting_fiber = this;
  }
#ifdef DYNATRONI_SIM_ASAN
  void* scheduler_fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&scheduler_fake_stack, stack_, stack_bytes_);
#endif
  if (swapcontext(&caller_, &context_) != 0) Die("swapcontext failed");
#ifdef DYNATRONI_SIM_ASAN
  __sanitizer_finish_switch_fiber(scheduler_fake_stack, nullptr, nullptr);
#endif
  current_fiber = nullptr;
}

void Fiber::SwitchOut(bool finishing) {
#ifdef DYNATRONI_SIM_ASAN
  // nullptr: this fiber's fake stack is destroyed (it never runs again).
  __sanitizer_start_switch_fiber(finishing ? nullptr : &fiber_fake_stack_, caller_stack_bottom_,
                                 caller_stack_size_);
#endif
  if (swapcontext(&context_, &caller_) != 0) Die("swapcontext failed");
  if (finishing) Die("a finished fiber was resumed");
#ifdef DYNATRONI_SIM_ASAN
  __sanitizer_finish_switch_fiber(fiber_fake_stack_, &caller_stack_bottom_, &caller_stack_size_);
#endif
}

void Fiber::Suspend() {
  Fiber* self = current_fiber;
  if (self == nullptr) Die("Suspend() called outside a fiber");
  self->SwitchOut(false);
}

void Fiber::Entry() {
  Fiber* self = starting_fiber;
  starting_fiber = nullptr;
#ifdef DYNATRONI_SIM_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &self->caller_stack_bottom_, &self->caller_stack_size_);
#endif
  self->body_();
  self->body_ = nullptr;  // destroy captures on the fiber's own stack frame's watch
  self->finished_ = true;
  self->SwitchOut(true);
}

}  // namespace dynatroni::dcs::sim
