// Offline tests of the dynatroni output helpers.
#include "cli/output.h"

#include <sstream>

#include <gtest/gtest.h>

namespace dynatroni::cli {
namespace {

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string line;
  while (std::getline(ss, line)) out.push_back(line);
  return out;
}

TEST(CliOutput, TableColumnsStartAtTheSameOffsetInEveryRow) {
  TextTable t({"Member", "Role", "Lag"});
  t.AlignRight(2);
  t.AddRow({"node1", "primary", ""});
  t.AddRow({"a-much-longer-name", "replica", "1234"});
  t.AddRow({"n3", "replica"});  // short row is padded
  std::ostringstream out;
  t.Print(out, "  ");
  auto lines = SplitLines(out.str());
  ASSERT_EQ(lines.size(), 4u);
  size_t role_col = lines[0].find("Role");
  EXPECT_EQ(role_col, 2 + std::string("a-much-longer-name").size() + 2);
  for (size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].rfind("  ", 0), 0u) << "indent";
    EXPECT_EQ(lines[i].find_first_not_of(' ', role_col), role_col) << lines[i];
    EXPECT_NE(lines[i].back(), ' ') << "no trailing blanks: '" << lines[i] << "'";
  }
  // Right-aligned numbers end at the header's end.
  EXPECT_EQ(lines[0].size(), lines[2].size());
  EXPECT_EQ(lines[2].substr(lines[2].size() - 4), "1234");
}

TEST(CliOutput, WidthCountsCharactersNotBytes) {
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("—fix"), 4u);
  TextTable t({"A", "B"});
  t.AddRow({"ü", "x"});
  t.AddRow({"ab", "y"});
  std::ostringstream out;
  t.Print(out);
  auto lines = SplitLines(out.str());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(DisplayWidth(lines[1]), DisplayWidth(lines[2]));
}

TEST(CliOutput, HeaderlessTablePrintsOnlyRows) {
  TextTable t({"", ""});
  t.AddRow({"PASS", "region"});
  std::ostringstream out;
  t.Print(out);
  EXPECT_EQ(out.str(), "PASS  region\n");
}

TEST(CliOutput, DurationsReadNaturally) {
  EXPECT_EQ(FormatMillis(0), "0ms");
  EXPECT_EQ(FormatMillis(850), "850ms");
  EXPECT_EQ(FormatMillis(12345), "12.3s");
  EXPECT_EQ(FormatMillis(245000), "4m 05s");
  EXPECT_EQ(FormatMillis(2 * 3600000LL + 3 * 60000LL), "2h 03m");
  EXPECT_EQ(FormatMillis(3 * 86400000LL + 4 * 3600000LL), "3d 04h");
  EXPECT_EQ(FormatMillis(-1500), "-1.5s");
  EXPECT_EQ(FormatDuration(std::chrono::seconds(30)), "30.0s");
}

TEST(CliOutput, TimestampsAreUtcIso8601WithMillis) {
  EXPECT_EQ(FormatEpochMillis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatEpochMillis(1700000000123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(EpochMillis(WallTime(std::chrono::milliseconds(1700000000123))), 1700000000123);
}

TEST(CliOutput, MoneyAndTruncation) {
  EXPECT_EQ(FormatDollars(12.345), "$12.35");
  EXPECT_EQ(FormatDollars(0.0042), "$0.0042");
  EXPECT_EQ(FormatDollars(0), "$0.00");
  EXPECT_EQ(Truncate("short", 10), "short");
  EXPECT_EQ(Truncate("0123456789abc", 10), "0123456...");
  EXPECT_EQ(DisplayWidth(Truncate("ääääääääääää", 8)), 8u);
}

TEST(CliOutput, JsonIsPrettyOrOneLine) {
  std::ostringstream pretty, compact;
  PrintJson(pretty, nlohmann::json{{"a", 1}, {"b", {1, 2}}});
  PrintJson(compact, nlohmann::json{{"a", 1}}, true);
  EXPECT_EQ(compact.str(), "{\"a\":1}\n");
  EXPECT_NE(pretty.str().find("\n  \"a\": 1"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(pretty.str())["b"][1], 2);
}

}  // namespace
}  // namespace dynatroni::cli
