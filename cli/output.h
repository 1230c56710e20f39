// File: cli/output.h
//
// Human output helpers of `dynatroni`: aligned text tables, durations, ages,
// byte sizes and timestamps; and the JSON writer used by every --json.
//
// Thread-safety: value types and pure functions.
#ifndef DYNATRONI_CLI_OUTPUT_H_
#define DYNATRONI_CLI_OUTPUT_H_

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"

namespace dynatroni::cli {

// A table whose columns are padded to their widest cell (UTF-8 aware),
// separated by two spaces, with no trailing blanks.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers);
  // Right-align column `col` (numbers).
  void AlignRight(size_t col);
  // A row with fewer cells than headers is padded with empty cells; extra
  // cells are dropped.
  void AddRow(std::vector<std::string> cells);
  // Prints the header row (unless headers are all empty) and the rows, each
  // line starting with `indent`.
  void Print(std::ostream& out, const std::string& indent = "") const;
  [[nodiscard]] size_t rows() const { return rows_.size(); }

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// Number of code points of a UTF-8 string (the display width for the text we print).
size_t DisplayWidth(const std::string& s);

// "850ms", "12.3s", "4m 05s", "2h 03m", "3d 04h". Negative durations get a "-".
std::string FormatDuration(Duration d);
// FormatDuration of milliseconds.
std::string FormatMillis(int64_t ms);
// "2026-11-26T01:17:16.123Z" for epoch milliseconds (UTC).
std::string FormatEpochMillis(int64_t epoch_ms);
// Milliseconds since the epoch of a wall time.
int64_t EpochMillis(WallTime t);
// Fixed-point with `decimals` digits ("12.50").
std::string FormatFixed(double v, int decimals);
// Dollars: "$1.23" (cents), "$0.0042" below one cent.
std::string FormatDollars(double v);
// Shortens `s` to at most `max` display characters with a trailing "...".
std::string Truncate(const std::string& s, size_t max);

// JSON output: pretty (2-space indent) for a single document, compact for
// one line per refresh (status --watch --json). Always ends with a newline.
void PrintJson(std::ostream& out, const nlohmann::json& j, bool compact = false);

}  // namespace dynatroni::cli

#endif  // DYNATRONI_CLI_OUTPUT_H_
