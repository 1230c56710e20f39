#include "http/fake_transport.h"

#include <utility>

namespace dynatroni::http {

FakeTransport::FakeTransport(FakeClock* clock, Duration latency) : clock_(clock), latency_(latency) {}

void FakeTransport::PushResponse(Response response, std::optional<Duration> latency) {
  PushHandler([r = std::move(response)](const Request&) -> Result<Response> { return r; }, latency);
}

void FakeTransport::PushResponse(int status, std::string body, Headers headers,
                                 std::optional<Duration> latency) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  PushResponse(std::move(r), latency);
}

void FakeTransport::PushFailure(Status status, std::optional<Duration> latency) {
  if (status.ok()) status = Internal("FakeTransport::PushFailure given an OK status");
  PushHandler([s = std::move(status)](const Request&) -> Result<Response> { return s; }, latency);
}

void FakeTransport::PushHandler(Handler handler, std::optional<Duration> latency) {
  std::lock_guard<std::mutex> lock(mu_);
  steps_.push_back(Step{std::move(handler), latency});
}

void FakeTransport::SetFallback(Handler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  fallback_ = std::move(handler);
}

void FakeTransport::set_latency(Duration latency) {
  std::lock_guard<std::mutex> lock(mu_);
  latency_ = latency;
}

Result<Response> FakeTransport::Send(const Request& request, Deadline deadline) {
  Handler handler;
  Duration latency;
  size_t index;
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(request);
    deadlines_.push_back(deadline);
    index = requests_.size();
    if (!steps_.empty()) {
      Step step = std::move(steps_.front());
      steps_.pop_front();
      handler = std::move(step.handler);
      latency = step.latency.value_or(latency_);
    } else {
      handler = fallback_;
      latency = latency_;
    }
  }
  if (clock_ != nullptr) {
    if (deadline.Expired(*clock_)) return Unavailable("FakeTransport: deadline passed before sending");
    Duration remaining = deadline.Remaining(*clock_);
    if (latency >= remaining) {
      clock_->Advance(remaining);
      return UnknownOutcome("FakeTransport: request timed out after sending (deadline reached)");
    }
    clock_->Advance(latency);
  }
  if (!handler) return Internal("FakeTransport: no scripted response for request #" + std::to_string(index));
  return handler(request);
}

std::vector<Request> FakeTransport::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t FakeTransport::request_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

size_t FakeTransport::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return steps_.size();
}

std::vector<Deadline> FakeTransport::deadlines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return deadlines_;
}

}  // namespace dynatroni::http
