// File: http/fake_transport.h
//
// A scripted http::Transport for tests. Each Send() records the request and
// consumes the next scripted step in FIFO order: a response, or a failure
// Status (kUnavailable = never sent, kUnknownOutcome = sent, no answer, ...),
// or a handler computing the answer from the request. With no step left,
// Send() returns kInternal ("no scripted response") so a test notices.
//
// Latency: with a FakeClock attached, every Send() advances it by the step's
// latency (default: the transport's). If that would pass the request's
// deadline, the clock is moved to the deadline instead and the call returns
// kUnknownOutcome (a timeout after sending), as the real transport would.
//
// Thread-safety: safe for concurrent use; steps are consumed atomically.
#ifndef DYNATRONI_HTTP_FAKE_TRANSPORT_H_
#define DYNATRONI_HTTP_FAKE_TRANSPORT_H_

#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "http/transport.h"

namespace dynatroni::http {

class FakeTransport final : public Transport {
 public:
  using Handler = std::function<Result<Response>(const Request&)>;

  // `clock` may be null (no time passes); it must outlive the transport.
  explicit FakeTransport(FakeClock* clock = nullptr, Duration latency = Duration::zero());

  // Scripts the next answer. `latency` overrides the default for this step.
  void PushResponse(Response response, std::optional<Duration> latency = std::nullopt);
  void PushResponse(int status, std::string body, Headers headers = {},
                    std::optional<Duration> latency = std::nullopt);
  void PushFailure(Status status, std::optional<Duration> latency = std::nullopt);
  void PushHandler(Handler handler, std::optional<Duration> latency = std::nullopt);
  // Answers every request after the script ran out (instead of kInternal).
  void SetFallback(Handler handler);

  void set_latency(Duration latency);

  Result<Response> Send(const Request& request, Deadline deadline) override;

  // Every request received so far, in order.
  [[nodiscard]] std::vector<Request> requests() const;
  [[nodiscard]] size_t request_count() const;
  // Scripted steps not yet consumed.
  [[nodiscard]] size_t pending() const;
  // The deadline each request was sent with, in order.
  [[nodiscard]] std::vector<Deadline> deadlines() const;

 private:
  struct Step {
    Handler handler;
    std::optional<Duration> latency;
  };

  FakeClock* clock_;
  mutable std::mutex mu_;
  Duration latency_;
  std::deque<Step> steps_;
  Handler fallback_;
  std::vector<Request> requests_;
  std::vector<Deadline> deadlines_;
};

}  // namespace dynatroni::http

#endif  // DYNATRONI_HTTP_FAKE_TRANSPORT_H_
