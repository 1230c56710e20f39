#include "dcs/sim_dynamodb.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace dynatroni::dcs::sim {

using nlohmann::json;

namespace expr {

// ---------------------------------------------------------------------------
// The expression AST.

struct Operand {
  enum class Kind { kPath, kValue, kSize, kIfNotExists, kPlus, kMinus } kind = Kind::kPath;
  std::string token;          // kPath: "#name" or a plain attribute name; kValue: ":value"
  std::vector<Operand> args;  // kSize: {path}; kIfNotExists: {path, operand}; kPlus/kMinus: {a, b}
};

struct Cond {
  enum class Kind {
    kOr,
    kAnd,
    kNot,
    kCompare,
    kBetween,
    kIn,
    kExists,
    kNotExists,
    kBeginsWith,
    kContains
  } kind = Kind::kCompare;
  std::string op;              // kCompare: = <> < <= > >=
  std::vector<Cond> children;  // kOr, kAnd (two), kNot (one)
  std::vector<Operand> operands;
};

struct Action {
  bool remove = false;
  Operand path;
  Operand value;  // SET only
};

}  // namespace expr

struct SimDynamoDb::Expr {
  std::optional<expr::Cond> cond;    // condition / key condition / filter
  std::vector<expr::Action> update;  // update expression
  std::set<std::string> names;       // #placeholders used
  std::set<std::string> values;      // :placeholders used
};

namespace {

using expr::Action;
using expr::Cond;
using expr::Operand;

// An error answer; thrown inside Handle() and turned into the reply.
struct ApiError {
  int status = 400;
  std::string type;
  std::string message;
};

[[noreturn]] void Validation(std::string message) {
  throw ApiError{400, "ValidationException", std::move(message)};
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Tokens and the parser (the expression grammar of the DynamoDB developer
// guide, top-level attribute paths only).

enum class Tok {
  kEnd,
  kName,   // #name
  kValue,  // :value
  kIdent,
  kLParen,
  kRParen,
  kComma,
  kCompare,  // = <> < <= > >=
  kPlus,
  kMinus,
  kDot,
  kLBracket,
  kRBracket
};

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;
  size_t pos = 0;
};

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

class Parser {
 public:
  Parser(const std::string& text, std::string field) : text_(text), field_(std::move(field)) { Lex(); }

  SimDynamoDb::Expr Condition() {
    SimDynamoDb::Expr e;
    if (tokens_.size() == 1) Invalid("The expression can not be empty;");
    e.cond = Or();
    if (Peek().kind != Tok::kEnd) SyntaxError(Peek());
    e.names = std::move(names_);
    e.values = std::move(values_);
    return e;
  }

  SimDynamoDb::Expr Update() {
    SimDynamoDb::Expr e;
    if (tokens_.size() == 1) Invalid("The expression can not be empty;");
    std::set<std::string> sections;
    while (Peek().kind != Tok::kEnd) {
      const Token& t = Next();
      if (t.kind != Tok::kIdent) SyntaxError(t);
      std::string section;
      for (const char* s : {"SET", "REMOVE", "ADD", "DELETE"}) {
        if (EqualsNoCase(t.text, s)) section = s;
      }
      if (section.empty()) SyntaxError(t);
      if (!sections.insert(section).second) {
        Invalid("The \"" + section + "\" section can only be used once in an update expression;");
      }
      if (section == "ADD" || section == "DELETE") {
        Validation("the simulated DynamoDB does not support " + section + " in an UpdateExpression");
      }
      do {
        Action a;
        a.remove = section == "REMOVE";
        a.path = Path();
        if (!a.remove) {
          const Token& eq = Next();
          if (eq.kind != Tok::kCompare || eq.text != "=") SyntaxError(eq);
          a.value = SetValue();
        }
        e.update.push_back(std::move(a));
      } while (Accept(Tok::kComma));
      if (Peek().kind != Tok::kEnd && Peek().kind != Tok::kIdent) SyntaxError(Peek());
    }
    e.names = std::move(names_);
    e.values = std::move(values_);
    return e;
  }

 private:
  [[noreturn]] void Invalid(const std::string& what) { Validation("Invalid " + field_ + ": " + what); }
  [[noreturn]] void SyntaxError(const Token& t) {
    std::string token = t.kind == Tok::kEnd ? "<EOF>" : t.text;
    size_t from = t.pos > 10 ? t.pos - 10 : 0;
    Invalid("Syntax error; token: \"" + token + "\", near: \"" + text_.substr(from, 25) + "\"");
  }

  void Lex() {
    size_t i = 0;
    const std::string& s = text_;
    while (i < s.size()) {
      char c = s[i];
      if (std::isspace(static_cast<unsigned char>(c)) != 0) {
        ++i;
        continue;
      }
      Token t;
      t.pos = i;
      if (c == '#' || c == ':') {
        size_t j = i + 1;
        while (j < s.size() && IsWordChar(s[j])) ++j;
        if (j == i + 1) {
          t.text = std::string(1, c);
          SyntaxError(t);
        }
        t.kind = c == '#' ? Tok::kName : Tok::kValue;
        t.text = s.substr(i, j - i);
        i = j;
      } else if (std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_') {
        size_t j = i;
        while (j < s.size() && IsWordChar(s[j])) ++j;
        t.kind = Tok::kIdent;
        t.text = s.substr(i, j - i);
        i = j;
      } else if (c == '<' || c == '>' || c == '=') {
        size_t len = 1;
        if (i + 1 < s.size() &&
            ((c == '<' && (s[i + 1] == '>' || s[i + 1] == '=')) || (c == '>' && s[i + 1] == '=')))
          len = 2;
        t.kind = Tok::kCompare;
        t.text = s.substr(i, len);
        i += len;
      } else {
        static constexpr std::pair<char, Tok> kPunct[] = {
            {'(', Tok::kLParen}, {')', Tok::kRParen}, {',', Tok::kComma},    {'+', Tok::kPlus},
            {'-', Tok::kMinus},  {'.', Tok::kDot},    {'[', Tok::kLBracket}, {']', Tok::kRBracket}};
        t.text = std::string(1, c);
        bool found = false;
        for (const auto& [ch, kind] : kPunct) {
          if (ch == c) {
            t.kind = kind;
            found = true;
          }
        }
        if (!found) SyntaxError(t);
        ++i;
      }
      tokens_.push_back(std::move(t));
    }
    Token end;
    end.pos = s.size();
    tokens_.push_back(end);
  }

  const Token& Peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& Next() {
    const Token& t = Peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool Accept(Tok kind) {
    if (Peek().kind != kind) return false;
    Next();
    return true;
  }
  bool AcceptWord(const char* word) {
    if (Peek().kind != Tok::kIdent || !EqualsNoCase(Peek().text, word)) return false;
    Next();
    return true;
  }
  void Expect(Tok kind) {
    if (Peek().kind != kind) SyntaxError(Peek());
    Next();
  }
  static bool IsReserved(const std::string& word) {
    for (const char* r : {"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"}) {
      if (EqualsNoCase(word, r)) return true;
    }
    return false;
  }

  Cond Or() {
    Cond left = And();
    while (AcceptWord("OR")) {
      Cond c;
      c.kind = Cond::Kind::kOr;
      c.children.push_back(std::move(left));
      c.children.push_back(And());
      left = std::move(c);
    }
    return left;
  }
  Cond And() {
    Cond left = Not();
    while (AcceptWord("AND")) {
      Cond c;
      c.kind = Cond::Kind::kAnd;
      c.children.push_back(std::move(left));
      c.children.push_back(Not());
      left = std::move(c);
    }
    return left;
  }
  Cond Not() {
    if (AcceptWord("NOT")) {
      Cond c;
      c.kind = Cond::Kind::kNot;
      c.children.push_back(Not());
      return c;
    }
    return Primary();
  }
  Cond Primary() {
    if (Accept(Tok::kLParen)) {
      Cond c = Or();
      Expect(Tok::kRParen);
      return c;
    }
    if (Peek().kind == Tok::kIdent && Peek(1).kind == Tok::kLParen) {
      static constexpr std::pair<const char*, Cond::Kind> kFunctions[] = {
          {"attribute_exists", Cond::Kind::kExists},
          {"attribute_not_exists", Cond::Kind::kNotExists},
          {"begins_with", Cond::Kind::kBeginsWith},
          {"contains", Cond::Kind::kContains}};
      for (const auto& [name, kind] : kFunctions) {
        if (Peek().text != name) continue;
        Next();
        Next();
        Cond c;
        c.kind = kind;
        c.operands.push_back(Path());
        if (kind == Cond::Kind::kBeginsWith || kind == Cond::Kind::kContains) {
          Expect(Tok::kComma);
          c.operands.push_back(ConditionOperand());
        }
        Expect(Tok::kRParen);
        return c;
      }
      if (Peek().text != "size") {
        Invalid("Invalid function name; function: " + Peek().text);
      }
    }
    Cond c;
    c.operands.push_back(ConditionOperand());
    if (Peek().kind == Tok::kCompare) {
      c.kind = Cond::Kind::kCompare;
      c.op = Next().text;
      c.operands.push_back(ConditionOperand());
      return c;
    }
    if (AcceptWord("BETWEEN")) {
      c.kind = Cond::Kind::kBetween;
      c.operands.push_back(ConditionOperand());
      if (!AcceptWord("AND")) SyntaxError(Peek());
      c.operands.push_back(ConditionOperand());
      return c;
    }
    if (AcceptWord("IN")) {
      c.kind = Cond::Kind::kIn;
      Expect(Tok::kLParen);
      do {
        c.operands.push_back(ConditionOperand());
      } while (Accept(Tok::kComma));
      Expect(Tok::kRParen);
      return c;
    }
    SyntaxError(Peek());
  }

  // path | :value | size(path)
  Operand ConditionOperand() {
    if (Peek().kind == Tok::kIdent && Peek().text == "size" && Peek(1).kind == Tok::kLParen) {
      Next();
      Next();
      Operand o;
      o.kind = Operand::Kind::kSize;
      o.args.push_back(Path());
      Expect(Tok::kRParen);
      return o;
    }
    if (Peek().kind == Tok::kValue) return Value();
    return Path();
  }

  Operand Value() {
    const Token& t = Next();
    if (t.kind != Tok::kValue) SyntaxError(t);
    values_.insert(t.text);
    Operand o;
    o.kind = Operand::Kind::kValue;
    o.token = t.text;
    return o;
  }

  Operand Path() {
    const Token& t = Next();
    if (t.kind == Tok::kName) {
      names_.insert(t.text);
    } else if (t.kind != Tok::kIdent || IsReserved(t.text)) {
      SyntaxError(t);
    }
    if (Peek().kind == Tok::kDot || Peek().kind == Tok::kLBracket) {
      Validation("the simulated DynamoDB supports top-level attribute paths only (" + field_ + ")");
    }
    Operand o;
    o.kind = Operand::Kind::kPath;
    o.token = t.text;
    return o;
  }

  // SET right-hand side: operand [(+|-) operand]
  Operand SetValue() {
    Operand a = SetOperand();
    if (Peek().kind == Tok::kPlus || Peek().kind == Tok::kMinus) {
      Operand o;
      o.kind = Next().kind == Tok::kPlus ? Operand::Kind::kPlus : Operand::Kind::kMinus;
      o.args.push_back(std::move(a));
      o.args.push_back(SetOperand());
      return o;
    }
    return a;
  }
  // path | :value | if_not_exists(path, operand)
  Operand SetOperand() {
    if (Peek().kind == Tok::kIdent && Peek(1).kind == Tok::kLParen) {
      if (Peek().text != "if_not_exists") Invalid("Invalid function name; function: " + Peek().text);
      Next();
      Next();
      Operand o;
      o.kind = Operand::Kind::kIfNotExists;
      o.args.push_back(Path());
      Expect(Tok::kComma);
      o.args.push_back(Peek().kind == Tok::kValue ? Value() : Path());
      Expect(Tok::kRParen);
      return o;
    }
    if (Peek().kind == Tok::kValue) return Value();
    return Path();
  }

  const std::string& text_;
  std::string field_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  std::set<std::string> names_;
  std::set<std::string> values_;
};

// ---------------------------------------------------------------------------
// Evaluation.

struct Ctx {
  const json* item = nullptr;    // the item the expression is evaluated on (nullptr: absent)
  const json* names = nullptr;   // ExpressionAttributeNames (object) or nullptr
  const json* values = nullptr;  // ExpressionAttributeValues (object) or nullptr
};

const std::string& AttributeName(const Ctx& ctx, const std::string& token) {
  if (token.empty() || token[0] != '#') return token;
  // Presence was checked against the expression's placeholders before.
  return ctx.names->find(token)->get_ref<const std::string&>();
}

const json* Attribute(const json* item, const std::string& name) {
  if (item == nullptr) return nullptr;
  auto it = item->find(name);
  return it == item->end() ? nullptr : &*it;
}

// The single "T" of an AttributeValue {"T": v}; empty when malformed.
std::string_view TypeOf(const json& v) {
  if (!v.is_object() || v.size() != 1) return {};
  return v.begin().key();
}

struct Number {
  bool integral = true;
  int64_t i = 0;
  long double d = 0;
};

Number ParseNumber(const json& v) {
  const std::string& s = v.begin()->get_ref<const std::string&>();
  Number n;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n.i);
  if (ec == std::errc() && ptr == s.data() + s.size()) {
    n.d = static_cast<long double>(n.i);
    return n;
  }
  char* end = nullptr;
  n.integral = false;
  n.d = std::strtold(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0') Validation("A value provided cannot be converted into a number");
  return n;
}

json NumberValue(const Number& n) {
  if (n.integral) return json{{"N", std::to_string(n.i)}};
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.30Lg", n.d);
  return json{{"N", std::string(buf)}};
}

std::optional<json> Eval(const Operand& o, const Ctx& ctx) {
  switch (o.kind) {
    case Operand::Kind::kPath: {
      const json* a = Attribute(ctx.item, AttributeName(ctx, o.token));
      if (a == nullptr) return std::nullopt;
      return *a;
    }
    case Operand::Kind::kValue:
      return *ctx.values->find(o.token);
    case Operand::Kind::kSize: {
      auto v = Eval(o.args[0], ctx);
      if (!v) return std::nullopt;
      std::string_view t = TypeOf(*v);
      const json& inner = *v->begin();
      int64_t size = 0;
      if (t == "S" || t == "B") {
        size = static_cast<int64_t>(inner.get_ref<const std::string&>().size());
      } else if (t == "L" || t == "M" || t == "SS" || t == "NS" || t == "BS") {
        size = static_cast<int64_t>(inner.size());
      } else {
        Validation(
            "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or "
            "function: size, operand type: " +
            std::string(t));
      }
      return json{{"N", std::to_string(size)}};
    }
    case Operand::Kind::kIfNotExists: {
      auto v = Eval(o.args[0], ctx);
      if (v) return v;
      return Eval(o.args[1], ctx);
    }
    case Operand::Kind::kPlus:
    case Operand::Kind::kMinus: {
      auto a = Eval(o.args[0], ctx);
      auto b = Eval(o.args[1], ctx);
      if (!a || !b) {
        Validation("The provided expression refers to an attribute that does not exist in the item");
      }
      if (TypeOf(*a) != "N" || TypeOf(*b) != "N") {
        Validation("An operand in the update expression has an incorrect data type");
      }
      Number x = ParseNumber(*a);
      Number y = ParseNumber(*b);
      Number r;
      const bool plus = o.kind == Operand::Kind::kPlus;
      if (x.integral && y.integral &&
          !(plus ? __builtin_add_overflow(x.i, y.i, &r.i) : __builtin_sub_overflow(x.i, y.i, &r.i))) {
        return NumberValue(r);
      }
      r.integral = false;
      r.d = plus ? x.d + y.d : x.d - y.d;
      return NumberValue(r);
    }
  }
  return std::nullopt;
}

// -1, 0, 1 for comparable values of the same scalar type; nullopt otherwise.
std::optional<int> Order(const json& a, const json& b, const std::string& op) {
  std::string_view ta = TypeOf(a);
  if (ta != TypeOf(b)) return std::nullopt;
  if (ta == "N") {
    Number x = ParseNumber(a);
    Number y = ParseNumber(b);
    if (x.integral && y.integral) return x.i < y.i ? -1 : (x.i > y.i ? 1 : 0);
    return x.d < y.d ? -1 : (x.d > y.d ? 1 : 0);
  }
  if (ta == "S" || ta == "B") {
    int c = a.begin()->get_ref<const std::string&>().compare(b.begin()->get_ref<const std::string&>());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (op == "=" || op == "<>") return a == b ? 0 : 1;
  Validation("Invalid ConditionExpression: Incorrect operand type for operator or function; operator: " + op +
             ", operand type: " + std::string(ta));
}

bool Compare(const std::optional<json>& a, const std::optional<json>& b, const std::string& op) {
  if (!a || !b) return op == "<>";
  auto o = Order(*a, *b, op);
  if (!o) return op == "<>";
  if (op == "=") return *o == 0;
  if (op == "<>") return *o != 0;
  if (op == "<") return *o < 0;
  if (op == "<=") return *o <= 0;
  if (op == ">") return *o > 0;
  return *o >= 0;  // ">="
}

bool EvalCond(const Cond& c, const Ctx& ctx) {
  switch (c.kind) {
    case Cond::Kind::kOr:
      return EvalCond(c.children[0], ctx) || EvalCond(c.children[1], ctx);
    case Cond::Kind::kAnd:
      return EvalCond(c.children[0], ctx) && EvalCond(c.children[1], ctx);
    case Cond::Kind::kNot:
      return !EvalCond(c.children[0], ctx);
    case Cond::Kind::kCompare:
      return Compare(Eval(c.operands[0], ctx), Eval(c.operands[1], ctx), c.op);
    case Cond::Kind::kBetween: {
      auto v = Eval(c.operands[0], ctx);
      return Compare(v, Eval(c.operands[1], ctx), ">=") && Compare(v, Eval(c.operands[2], ctx), "<=");
    }
    case Cond::Kind::kIn: {
      auto v = Eval(c.operands[0], ctx);
      for (size_t i = 1; i < c.operands.size(); ++i) {
        if (Compare(v, Eval(c.operands[i], ctx), "=")) return true;
      }
      return false;
    }
    case Cond::Kind::kExists:
      return Attribute(ctx.item, AttributeName(ctx, c.operands[0].token)) != nullptr;
    case Cond::Kind::kNotExists:
      return Attribute(ctx.item, AttributeName(ctx, c.operands[0].token)) == nullptr;
    case Cond::Kind::kBeginsWith: {
      auto a = Eval(c.operands[0], ctx);
      auto b = Eval(c.operands[1], ctx);
      if (!a || !b || TypeOf(*a) != TypeOf(*b) || (TypeOf(*a) != "S" && TypeOf(*a) != "B")) return false;
      return a->begin()->get_ref<const std::string&>().starts_with(b->begin()->get_ref<const std::string&>());
    }
    case Cond::Kind::kContains: {
      auto a = Eval(c.operands[0], ctx);
      auto b = Eval(c.operands[1], ctx);
      if (!a || !b) return false;
      std::string_view t = TypeOf(*a);
      if (t == "S" && TypeOf(*b) == "S") {
        return a->begin()->get_ref<const std::string&>().find(b->begin()->get_ref<const std::string&>()) !=
               std::string::npos;
      }
      if (t == "SS" || t == "NS" || t == "BS" || t == "L") {
        for (const auto& e : *a->begin()) {
          if (t == "L" ? e == *b : json{{std::string(t.substr(0, 1)), e}} == *b) return true;
        }
      }
      return false;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------
// Request helpers.

const json* Member(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string StringMember(const json& obj, const char* name) {
  const json* m = Member(obj, name);
  if (m == nullptr) return {};
  if (!m->is_string()) Validation(std::string(name) + " must be a string");
  return m->get<std::string>();
}

void CheckAttributeValue(const json& v, const std::string& where) {
  std::string_view t = TypeOf(v);
  static constexpr std::string_view kTypes[] = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"};
  if (std::find(std::begin(kTypes), std::end(kTypes), t) == std::end(kTypes)) {
    Validation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes (" +
               where + ")");
  }
  const json& inner = *v.begin();
  if ((t == "S" || t == "N" || t == "B") && !inner.is_string()) {
    Validation("Supplied AttributeValue has a malformed " + std::string(t) + " (" + where + ")");
  }
  if (t == "N") ParseNumber(v);
}

void CheckItem(const json& item, const std::string& where) {
  if (!item.is_object()) Validation(where + " must be a map of attributes");
  for (auto it = item.begin(); it != item.end(); ++it)
    CheckAttributeValue(it.value(), where + "." + it.key());
}

// Size of an item as DynamoDB counts it, roughly (names + values).
size_t ItemSize(const json& item) {
  size_t size = 0;
  for (auto it = item.begin(); it != item.end(); ++it) {
    size += it.key().size();
    std::string_view t = TypeOf(it.value());
    const json& inner = *it.value().begin();
    if (t == "S" || t == "B") {
      size += inner.get_ref<const std::string&>().size();
    } else if (t == "N") {
      size += inner.get_ref<const std::string&>().size() / 2 + 1;
    } else {
      size += inner.dump().size();
    }
  }
  return size;
}

// Epoch seconds of an x-amz-date ("YYYYMMDDTHHMMSSZ"); nullopt if malformed.
std::optional<int64_t> ParseAmzDate(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  auto num = [&](size_t at, size_t len) -> std::optional<int64_t> {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data() + at, s.data() + at + len, v);
    if (ec != std::errc() || p != s.data() + at + len) return std::nullopt;
    return v;
  };
  auto y = num(0, 4), mo = num(4, 2), d = num(6, 2), h = num(9, 2), mi = num(11, 2), se = num(13, 2);
  if (!y || !mo || !d || !h || !mi || !se) return std::nullopt;
  // days_from_civil (H. Hinnant).
  int64_t year = *y - (*mo <= 2 ? 1 : 0);
  int64_t era = (year >= 0 ? year : year - 399) / 400;
  int64_t yoe = year - era * 400;
  int64_t doy = (153 * (*mo + (*mo > 2 ? -3 : 9)) + 2) / 5 + *d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = era * 146097 + doe - 719468;
  return days * 86400 + *h * 3600 + *mi * 60 + *se;
}

std::string AmzDate(int64_t epoch_s) {
  time_t t = static_cast<time_t>(epoch_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string HttpDate(int64_t epoch_s) {
  time_t t = static_cast<time_t>(epoch_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7], tm.tm_mday,
                kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

int64_t EpochSeconds(WallTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

enum ExprKind { kConditionExpr = 0, kKeyConditionExpr = 1, kUpdateExpr = 2 };

std::pair<std::string, std::string> KeyOf(const json* key, const SimDynamoOptions& o, const char* where);

}  // namespace

// ---------------------------------------------------------------------------

SimDynamoDb::SimDynamoDb(SimDynamoOptions options, std::function<double()> uniform01)
    : opts_(std::move(options)), uniform01_(std::move(uniform01)) {}

SimDynamoDb::~SimDynamoDb() = default;

const json* SimDynamoDb::Record::At(Instant t) const {
  auto it = std::find_if(history.rbegin(), history.rend(), [t](const auto& h) { return h.first <= t; });
  return it == history.rend() ? nullptr : it->second.get();
}

WallTime SimDynamoDb::WallAt(Instant at) const {
  return opts_.wall_at_zero + std::chrono::duration_cast<WallTime::duration>(at);
}

Instant SimDynamoDb::InstantOfEpoch(int64_t epoch_seconds) const {
  return std::chrono::seconds(epoch_seconds) - opts_.wall_at_zero.time_since_epoch();
}

const SimDynamoDb::Expr& SimDynamoDb::Parsed(const std::string& text, int kind) {
  auto& cache = expr_cache_[kind];
  auto it = cache.find(text);
  if (it != cache.end()) return *it->second;
  static constexpr const char* kFields[] = {"ConditionExpression", "KeyConditionExpression",
                                            "UpdateExpression"};
  Parser p(text, kFields[kind]);
  auto e = std::make_unique<Expr>(kind == kUpdateExpr ? p.Update() : p.Condition());
  return *cache.emplace(text, std::move(e)).first->second;
}

SimDynamoDb::Record& SimDynamoDb::RecordFor(const std::pair<std::string, std::string>& key) {
  return partitions_[key.first][key.second];
}

const SimDynamoDb::Record* SimDynamoDb::FindRecord(const std::string& partition,
                                                   const std::string& key) const {
  auto p = partitions_.find(partition);
  if (p == partitions_.end()) return nullptr;
  auto r = p->second.find(key);
  return r == p->second.end() ? nullptr : &r->second;
}

const json* SimDynamoDb::Current(const std::string& partition, const std::string& key) const {
  const Record* r = FindRecord(partition, key);
  return r == nullptr ? nullptr : r->current();
}

void SimDynamoDb::Store(const std::pair<std::string, std::string>& key, std::shared_ptr<const json> item,
                        Instant at, std::string_view cause) {
  Record& r = RecordFor(key);
  r.history.emplace_back(at, std::move(item));
  // Keep the newest entry at or before the oldest instant a lagging read can
  // ask for, and everything after it.
  const Instant horizon = at - opts_.max_staleness;
  size_t keep = 0;
  for (size_t i = 0; i < r.history.size(); ++i) {
    if (r.history[i].first <= horizon) keep = i;
  }
  if (keep > 0) r.history.erase(r.history.begin(), r.history.begin() + static_cast<std::ptrdiff_t>(keep));
  if (listener_) listener_(key.first, key.second, r.current(), at, cause);
}

Instant SimDynamoDb::ReadInstant(bool consistent, Instant at) {
  if (consistent || opts_.max_staleness <= Duration::zero()) return at;
  if (uniform01_() >= opts_.stale_read_probability) return at;
  return at - Duration(static_cast<Duration::rep>(uniform01_() *
                                                  static_cast<double>(opts_.max_staleness.count())));
}

std::optional<int64_t> SimDynamoDb::TtlOf(const std::string& partition, const std::string& key) const {
  const json* item = Current(partition, key);
  const json* ttl = item == nullptr ? nullptr : Attribute(item, "ttl");
  if (ttl == nullptr || TypeOf(*ttl) != "N") return std::nullopt;
  try {
    Number n = ParseNumber(*ttl);
    return n.integral ? n.i : static_cast<int64_t>(n.d);
  } catch (const ApiError&) {
    return std::nullopt;
  }
}

bool SimDynamoDb::ExpireIfDue(const std::string& partition, const std::string& key, Instant at) {
  auto ttl = TtlOf(partition, key);
  if (!ttl) return false;
  const int64_t now = EpochSeconds(WallAt(at));
  constexpr int64_t kFiveYears = int64_t{5} * 365 * 86400;
  if (*ttl >= now || *ttl < now - kFiveYears) return false;
  Store({partition, key}, nullptr, at, "TTL");
  return true;
}

bool SimDynamoDb::Seed(const json& item, Instant at) {
  try {
    auto key = KeyOf(&item, opts_, "Item");
    CheckItem(item, "Item");
    Store(key, std::make_shared<const json>(item), at, "Seed");
    return true;
  } catch (const ApiError&) {
    return false;
  }
}

SimReply SimDynamoDb::Error(int status, std::string_view type, std::string_view message) {
  SimReply r;
  r.status = status;
  r.error = std::string(type);
  const bool coral = type == "ThrottlingException";
  json body = {
      {"__type", std::string(coral ? "com.amazon.coral.availability#" : "com.amazonaws.dynamodb.v20120810#") +
                     std::string(type)},
      {"message", std::string(message)}};
  r.body = body.dump();
  return r;
}

http::Response SimDynamoDb::ToHttp(const SimReply& reply, Instant at) const {
  http::Response resp;
  resp.status = reply.status;
  resp.body = reply.body;
  const uLong crc = crc32_z(0L, reinterpret_cast<const Bytef*>(reply.body.data()), reply.body.size());
  resp.headers = {{"content-type", "application/x-amz-json-1.0"},
                  {"x-amzn-requestid", "SIM" + std::to_string(requests_)},
                  {"x-amz-crc32", std::to_string(crc)},
                  {"date", HttpDate(EpochSeconds(WallAt(at)))}};
  return resp;
}

SimReply SimDynamoDb::Handle(const http::Request& request, Instant at) {
  std::string_view target;
  std::string_view date;
  for (const auto& [name, value] : request.headers) {
    if (EqualsNoCase(name, "x-amz-target")) target = value;
    if (EqualsNoCase(name, "x-amz-date")) date = value;
  }
  return Handle(target, date, request.body, at);
}

SimReply SimDynamoDb::Handle(std::string_view target, std::string_view amz_date, std::string_view body,
                             Instant at) {
  ++requests_;
  try {
    constexpr std::string_view kPrefix = "DynamoDB_20120810.";
    if (!target.starts_with(kPrefix)) {
      throw ApiError{400, "UnknownOperationException", "Unknown operation"};
    }
    if (opts_.check_request_time) {
      auto sent = ParseAmzDate(amz_date);
      if (!sent) throw ApiError{400, "IncompleteSignatureException", "missing or malformed X-Amz-Date"};
      const int64_t now = EpochSeconds(WallAt(at));
      if (*sent < now - 300) {
        throw ApiError{400, "InvalidSignatureException",
                       "Signature expired: " + std::string(amz_date) + " is now earlier than " +
                           AmzDate(now - 300) + " (" + AmzDate(now) + " - 5 min.)"};
      }
      if (*sent > now + 300) {
        throw ApiError{400, "InvalidSignatureException",
                       "Signature not yet current: " + std::string(amz_date) + " is still later than " +
                           AmzDate(now + 300) + " (" + AmzDate(now) + " + 5 min.)"};
      }
    }
    json req = json::parse(body, nullptr, false);
    if (req.is_discarded() || !req.is_object()) {
      throw ApiError{400, "SerializationException", "Start of structure or map found where not expected"};
    }
    return Dispatch(target.substr(kPrefix.size()), req, at);
  } catch (const ApiError& e) {
    return Error(e.status, e.type, e.message);
  } catch (const json::exception& e) {
    return Error(400, "SerializationException", e.what());
  }
}

namespace {

std::pair<std::string, std::string> KeyOf(const json* key, const SimDynamoOptions& o, const char* where) {
  if (key == nullptr || !key->is_object()) Validation(std::string(where) + " is missing");
  const json* pk = Member(*key, o.partition_key.c_str());
  const json* sk = Member(*key, o.sort_key.c_str());
  if (pk == nullptr || sk == nullptr || TypeOf(*pk) != "S" || TypeOf(*sk) != "S" ||
      (std::string_view(where) == "Key" && key->size() != 2)) {
    Validation("The provided key element does not match the schema");
  }
  const std::string& p = pk->begin()->get_ref<const std::string&>();
  const std::string& s = sk->begin()->get_ref<const std::string&>();
  if (p.empty() || s.empty()) {
    Validation(
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
        "contain an empty string value.");
  }
  return {p, s};
}

void CheckTable(const json& req, const SimDynamoOptions& o) {
  std::string table = StringMember(req, "TableName");
  if (table.empty())
    Validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint");
  if (table != o.table) throw ApiError{400, "ResourceNotFoundException", "Requested resource not found"};
}

// Every placeholder the expressions use must be defined, and every defined one used.
void CheckPlaceholders(std::initializer_list<const SimDynamoDb::Expr*> exprs, const json* names,
                       const json* values) {
  std::set<std::string> used_names;
  std::set<std::string> used_values;
  for (const auto* e : exprs) {
    if (e == nullptr) continue;
    used_names.insert(e->names.begin(), e->names.end());
    used_values.insert(e->values.begin(), e->values.end());
  }
  if (names != nullptr) {
    if (!names->is_object() || names->empty()) Validation("ExpressionAttributeNames must not be empty");
    std::string unused;
    for (auto it = names->begin(); it != names->end(); ++it) {
      if (!it.value().is_string()) Validation("ExpressionAttributeNames values must be strings");
      if (!used_names.count(it.key())) unused += (unused.empty() ? "" : ", ") + it.key();
    }
    if (!unused.empty()) {
      Validation("Value provided in ExpressionAttributeNames unused in expressions: keys: {" + unused + "}");
    }
  }
  if (values != nullptr) {
    if (!values->is_object() || values->empty()) Validation("ExpressionAttributeValues must not be empty");
    std::string unused;
    for (auto it = values->begin(); it != values->end(); ++it) {
      CheckAttributeValue(it.value(), "ExpressionAttributeValues." + it.key());
      if (!used_values.count(it.key())) unused += (unused.empty() ? "" : ", ") + it.key();
    }
    if (!unused.empty()) {
      Validation("Value provided in ExpressionAttributeValues unused in expressions: keys: {" + unused + "}");
    }
  }
  for (const auto& n : used_names) {
    if (names == nullptr || !names->contains(n)) {
      Validation("An expression attribute name used in the document path is not defined; attribute name: " +
                 n);
    }
  }
  for (const auto& v : used_values) {
    if (values == nullptr || !values->contains(v)) {
      Validation("An expression attribute value used in expression is not defined; attribute value: " + v);
    }
  }
}

std::string ReturnValuesOf(const json& req, const char* field,
                           std::initializer_list<std::string_view> allowed) {
  std::string rv = StringMember(req, field);
  if (rv.empty()) return "NONE";
  for (std::string_view a : allowed) {
    if (rv == a) return rv;
  }
  Validation(std::string(field) + " " + rv + " is not valid for this operation");
}

SimReply Ok(const json& body) {
  SimReply r;
  r.body = body.dump();
  return r;
}

SimReply ConditionFailed(const json* current, bool return_old) {
  json body = {{"__type", "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"},
               {"message", "The conditional request failed"}};
  if (return_old && current != nullptr) body["Item"] = *current;
  SimReply r;
  r.status = 400;
  r.error = "ConditionalCheckFailedException";
  r.body = body.dump();
  return r;
}

}  // namespace

SimReply SimDynamoDb::Dispatch(std::string_view op, const json& req, Instant at) {
  if (op == "GetItem") return GetItem(req, at);
  if (op == "UpdateItem") return UpdateItem(req, at);
  if (op == "Query") return Query(req, at);
  if (op == "PutItem") return PutItem(req, at);
  if (op == "DeleteItem") return DeleteItem(req, at);
  if (op == "BatchWriteItem") return BatchWriteItem(req, at);
  if (op == "DescribeTable") return DescribeTable(req);
  throw ApiError{400, "UnknownOperationException", "Unknown operation " + std::string(op)};
}

SimReply SimDynamoDb::GetItem(const json& req, Instant at) {
  CheckTable(req, opts_);
  auto key = KeyOf(Member(req, "Key"), opts_, "Key");
  const json* names = Member(req, "ExpressionAttributeNames");
  std::vector<std::string> projection;
  if (std::string p = StringMember(req, "ProjectionExpression"); !p.empty()) {
    Expr e;
    size_t from = 0;
    while (from <= p.size()) {
      size_t comma = p.find(',', from);
      std::string part = p.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
      part.erase(0, part.find_first_not_of(' '));
      part.erase(part.find_last_not_of(' ') + 1);
      if (part.empty()) Validation("Invalid ProjectionExpression: Syntax error");
      if (part[0] == '#') e.names.insert(part);
      projection.push_back(part);
      if (comma == std::string::npos) break;
      from = comma + 1;
    }
    CheckPlaceholders({&e}, names, nullptr);
  } else {
    CheckPlaceholders({}, names, nullptr);
  }
  const json* consistent = Member(req, "ConsistentRead");
  const Record* rec = FindRecord(key.first, key.second);
  const json* item =
      rec == nullptr ? nullptr
                     : rec->At(ReadInstant(
                           consistent != nullptr && consistent->is_boolean() && consistent->get<bool>(), at));
  if (item == nullptr) return Ok(json::object());
  if (projection.empty()) return Ok(json{{"Item", *item}});
  Ctx ctx{item, names, nullptr};
  json out = json::object();
  for (const auto& p : projection) {
    const std::string& name = AttributeName(ctx, p);
    if (const json* a = Attribute(item, name)) out[name] = *a;
  }
  return Ok(json{{"Item", out}});
}

SimReply SimDynamoDb::PutItem(const json& req, Instant at) {
  CheckTable(req, opts_);
  const json* item = Member(req, "Item");
  auto key = KeyOf(item, opts_, "Item");
  CheckItem(*item, "Item");
  const json* names = Member(req, "ExpressionAttributeNames");
  const json* values = Member(req, "ExpressionAttributeValues");
  std::string cond_text = StringMember(req, "ConditionExpression");
  const Expr* cond = cond_text.empty() ? nullptr : &Parsed(cond_text, kConditionExpr);
  CheckPlaceholders({cond}, names, values);
  std::string rv = ReturnValuesOf(req, "ReturnValues", {"NONE", "ALL_OLD"});
  std::string rvf = ReturnValuesOf(req, "ReturnValuesOnConditionCheckFailure", {"NONE", "ALL_OLD"});
  if (ItemSize(*item) > 409600) Validation("Item size has exceeded the maximum allowed size");
  const json* old = RecordFor(key).current();
  if (cond != nullptr && !EvalCond(*cond->cond, Ctx{old, names, values}))
    return ConditionFailed(old, rvf == "ALL_OLD");
  json out = json::object();
  if (rv == "ALL_OLD" && old != nullptr) out["Attributes"] = *old;
  Store(key, std::make_shared<const json>(*item), at, "PutItem");
  SimReply r = Ok(out);
  r.changed = true;
  return r;
}

SimReply SimDynamoDb::DeleteItem(const json& req, Instant at) {
  CheckTable(req, opts_);
  auto key = KeyOf(Member(req, "Key"), opts_, "Key");
  const json* names = Member(req, "ExpressionAttributeNames");
  const json* values = Member(req, "ExpressionAttributeValues");
  std::string cond_text = StringMember(req, "ConditionExpression");
  const Expr* cond = cond_text.empty() ? nullptr : &Parsed(cond_text, kConditionExpr);
  CheckPlaceholders({cond}, names, values);
  std::string rv = ReturnValuesOf(req, "ReturnValues", {"NONE", "ALL_OLD"});
  std::string rvf = ReturnValuesOf(req, "ReturnValuesOnConditionCheckFailure", {"NONE", "ALL_OLD"});
  const json* old = RecordFor(key).current();
  if (cond != nullptr && !EvalCond(*cond->cond, Ctx{old, names, values}))
    return ConditionFailed(old, rvf == "ALL_OLD");
  json out = json::object();
  SimReply r;
  if (old != nullptr) {
    if (rv == "ALL_OLD") out["Attributes"] = *old;
    Store(key, nullptr, at, "DeleteItem");
    r.changed = true;
  }
  r.body = out.dump();
  return r;
}

SimReply SimDynamoDb::UpdateItem(const json& req, Instant at) {
  CheckTable(req, opts_);
  auto key = KeyOf(Member(req, "Key"), opts_, "Key");
  const json* names = Member(req, "ExpressionAttributeNames");
  const json* values = Member(req, "ExpressionAttributeValues");
  std::string update_text = StringMember(req, "UpdateExpression");
  std::string cond_text = StringMember(req, "ConditionExpression");
  const Expr* update = update_text.empty() ? nullptr : &Parsed(update_text, kUpdateExpr);
  const Expr* cond = cond_text.empty() ? nullptr : &Parsed(cond_text, kConditionExpr);
  CheckPlaceholders({update, cond}, names, values);
  std::string rv =
      ReturnValuesOf(req, "ReturnValues", {"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"});
  std::string rvf = ReturnValuesOf(req, "ReturnValuesOnConditionCheckFailure", {"NONE", "ALL_OLD"});
  const json* old = RecordFor(key).current();
  const Ctx ctx{old, names, values};
  if (cond != nullptr && !EvalCond(*cond->cond, ctx)) return ConditionFailed(old, rvf == "ALL_OLD");
  json next = old != nullptr
                  ? *old
                  : json{{opts_.partition_key, {{"S", key.first}}}, {opts_.sort_key, {{"S", key.second}}}};
  // Every right-hand side is evaluated on the item before the update.
  std::vector<std::pair<std::string, std::optional<json>>> changes;
  std::set<std::string> touched;
  if (update != nullptr) {
    for (const Action& a : update->update) {
      const std::string& name = AttributeName(ctx, a.path.token);
      if (name == opts_.partition_key || name == opts_.sort_key) {
        Validation("One or more parameter values were invalid: Cannot update attribute " + name +
                   ". This attribute is part of the key");
      }
      if (!touched.insert(name).second) {
        std::string message =
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
            "rewrite one of these paths; path one: [";
        message += name;
        message += "], path two: [";
        message += name;
        message += "]";
        Validation(std::move(message));
      }
      if (a.remove) {
        changes.emplace_back(name, std::nullopt);
        continue;
      }
      auto v = Eval(a.value, ctx);
      if (!v) Validation("The provided expression refers to an attribute that does not exist in the item");
      changes.emplace_back(name, std::move(v));
    }
  }
  for (auto& [name, v] : changes) {
    if (v) {
      next[name] = std::move(*v);
    } else {
      next.erase(name);
    }
  }
  if (ItemSize(next) > 409600) Validation("Item size to update has exceeded the maximum allowed size");
  json out = json::object();
  if (rv == "ALL_NEW") {
    out["Attributes"] = next;
  } else if (rv == "ALL_OLD" && old != nullptr) {
    out["Attributes"] = *old;
  } else if (rv == "UPDATED_NEW" || rv == "UPDATED_OLD") {
    json attrs = json::object();
    const json* from = rv == "UPDATED_NEW" ? &next : old;
    for (const auto& name : touched) {
      if (const json* a = Attribute(from, name)) attrs[name] = *a;
    }
    if (!attrs.empty()) out["Attributes"] = std::move(attrs);
  }
  Store(key, std::make_shared<const json>(std::move(next)), at, "UpdateItem");
  SimReply r = Ok(out);
  r.changed = true;
  return r;
}

SimReply SimDynamoDb::Query(const json& req, Instant at) {
  CheckTable(req, opts_);
  const json* names = Member(req, "ExpressionAttributeNames");
  const json* values = Member(req, "ExpressionAttributeValues");
  std::string kce_text = StringMember(req, "KeyConditionExpression");
  if (kce_text.empty())
    Validation("Either the KeyConditions or KeyConditionExpression parameter must be specified");
  const Expr& kce = Parsed(kce_text, kKeyConditionExpr);
  std::string filter_text = StringMember(req, "FilterExpression");
  const Expr* filter = filter_text.empty() ? nullptr : &Parsed(filter_text, kConditionExpr);
  CheckPlaceholders({&kce, filter}, names, values);
  const Ctx vctx{nullptr, names, values};
  // The partition: an equality on the partition key among the top-level conjuncts.
  std::optional<std::string> partition;
  std::vector<const Cond*> todo{&*kce.cond};
  while (!todo.empty()) {
    const Cond* c = todo.back();
    todo.pop_back();
    if (c->kind == Cond::Kind::kAnd) {
      todo.push_back(&c->children[0]);
      todo.push_back(&c->children[1]);
    } else if (c->kind == Cond::Kind::kCompare && c->op == "=") {
      for (int side = 0; side < 2; ++side) {
        const Operand& p = c->operands[side];
        const Operand& v = c->operands[1 - side];
        if (p.kind == Operand::Kind::kPath && v.kind == Operand::Kind::kValue &&
            AttributeName(vctx, p.token) == opts_.partition_key) {
          auto value = Eval(v, vctx);
          if (value && TypeOf(*value) == "S") partition = value->begin()->get<std::string>();
        }
      }
    }
  }
  if (!partition) Validation("Query condition missed key schema element: " + opts_.partition_key);
  int limit = 0;
  if (const json* l = Member(req, "Limit")) {
    if (!l->is_number_integer() || l->get<int64_t>() < 1) Validation("Limit must be at least 1");
    limit = static_cast<int>(std::min<int64_t>(l->get<int64_t>(), 1 << 30));
  }
  if (opts_.short_page_probability > 0 && uniform01_() < opts_.short_page_probability) {
    int page = 1 + static_cast<int>(uniform01_() * opts_.short_page_items);
    limit = limit == 0 ? page : std::min(limit, page);
  }
  std::optional<std::string> start;
  if (const json* esk = Member(req, "ExclusiveStartKey")) {
    auto k = KeyOf(esk, opts_, "Key");
    if (k.first != *partition) Validation("The provided starting key is invalid");
    start = k.second;
  }
  const json* forward_member = Member(req, "ScanIndexForward");
  const bool forward =
      forward_member == nullptr || !forward_member->is_boolean() || forward_member->get<bool>();
  const json* consistent = Member(req, "ConsistentRead");
  const Instant read_at =
      ReadInstant(consistent != nullptr && consistent->is_boolean() && consistent->get<bool>(), at);
  json items = json::array();
  int scanned = 0;
  std::optional<std::string> last_key;
  bool more = false;
  auto p = partitions_.find(*partition);
  if (p != partitions_.end()) {
    auto visit = [&](const std::string& sk, const Record& rec) {
      if (start && (forward ? sk <= *start : sk >= *start)) return true;
      const json* item = rec.At(read_at);
      if (item == nullptr) return true;
      const Ctx ctx{item, names, values};
      if (!EvalCond(*kce.cond, ctx)) return true;
      if (limit > 0 && scanned == limit) {
        more = true;
        return false;
      }
      ++scanned;
      last_key = sk;
      if (filter == nullptr || EvalCond(*filter->cond, ctx)) items.push_back(*item);
      return true;
    };
    if (forward) {
      for (const auto& [sk, rec] : p->second) {
        if (!visit(sk, rec)) break;
      }
    } else {
      // NOLINTNEXTLINE(modernize-loop-convert): clang-tidy 14 cannot parse libstdc++ 12's views::reverse
      for (auto it = p->second.rbegin(); it != p->second.rend(); ++it) {
        if (!visit(it->first, it->second)) break;
      }
    }
  }
  json out = {{"Count", items.size()}, {"ScannedCount", scanned}};
  out["Items"] = std::move(items);
  if (more && last_key) {
    out["LastEvaluatedKey"] = {{opts_.partition_key, {{"S", *partition}}},
                               {opts_.sort_key, {{"S", *last_key}}}};
  }
  return Ok(out);
}

SimReply SimDynamoDb::BatchWriteItem(const json& req, Instant at) {
  const json* items = Member(req, "RequestItems");
  if (items == nullptr || !items->is_object() || items->empty()) Validation("RequestItems must not be empty");
  std::vector<std::pair<std::pair<std::string, std::string>, std::shared_ptr<const json>>> writes;
  for (auto t = items->begin(); t != items->end(); ++t) {
    if (t.key() != opts_.table)
      throw ApiError{400, "ResourceNotFoundException", "Requested resource not found"};
    if (!t.value().is_array() || t.value().empty() || t.value().size() > 25) {
      Validation("Too many items requested for the BatchWriteItem call");
    }
    for (const json& w : t.value()) {
      if (const json* put = Member(w, "PutRequest")) {
        const json* item = Member(*put, "Item");
        auto key = KeyOf(item, opts_, "Item");
        CheckItem(*item, "Item");
        writes.emplace_back(key, std::make_shared<const json>(*item));
      } else if (const json* del = Member(w, "DeleteRequest")) {
        writes.emplace_back(KeyOf(Member(*del, "Key"), opts_, "Key"), nullptr);
      } else {
        Validation("BatchWriteItem: each request needs a PutRequest or a DeleteRequest");
      }
    }
  }
  SimReply r = Ok(json{{"UnprocessedItems", json::object()}});
  for (auto& [key, item] : writes) {
    if (item == nullptr && RecordFor(key).current() == nullptr) continue;
    Store(key, std::move(item), at, "BatchWriteItem");
    r.changed = true;
  }
  return r;
}

SimReply SimDynamoDb::DescribeTable(const json& req) {
  CheckTable(req, opts_);
  size_t count = 0;
  for (const auto& [pk, part] : partitions_) {
    for (const auto& [sk, rec] : part) count += rec.current() != nullptr ? 1 : 0;
  }
  json table = {
      {"TableName", opts_.table},
      {"TableStatus", "ACTIVE"},
      {"KeySchema", json::array({{{"AttributeName", opts_.partition_key}, {"KeyType", "HASH"}},
                                 {{"AttributeName", opts_.sort_key}, {"KeyType", "RANGE"}}})},
      {"AttributeDefinitions", json::array({{{"AttributeName", opts_.partition_key}, {"AttributeType", "S"}},
                                            {{"AttributeName", opts_.sort_key}, {"AttributeType", "S"}}})},
      {"BillingModeSummary", {{"BillingMode", "PAY_PER_REQUEST"}}},
      {"ItemCount", count}};
  return Ok(json{{"Table", std::move(table)}});
}

}  // namespace dynatroni::dcs::sim
