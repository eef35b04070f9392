// Tests of the spec-string grammar shared by optimizers, schedules and
// parameter groups: accepted forms, typed getters, unknown-key detection and
// exact double formatting.
#include "optim/spec_parser.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace optim_internal {
namespace {

using ::testing::HasSubstr;

TEST(SpecArgsTest, ParsesNameOnlyAndEmptyArgumentList) {
  for (const char* spec : {"adam", "adam:", "  adam  :  "}) {
    auto args = SpecArgs::Parse(spec, "test spec");
    ASSERT_TRUE(args.ok()) << spec << ": " << args.status();
    EXPECT_EQ(args->name(), "adam");
    EXPECT_TRUE(args->CheckNoUnknownKeys().ok());
  }
}

TEST(SpecArgsTest, TypedGettersParseValuesAndDefaults) {
  auto args = SpecArgs::Parse(
      "x: a = 1.5 ,b=-3, c=true, d=0, e=0.9/ 0.999 ,f=word", "test spec");
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(*args->GetDouble("a", 0), 1.5);
  EXPECT_EQ(*args->GetInt("b", 0), -3);
  EXPECT_TRUE(*args->GetBool("c", false));
  EXPECT_FALSE(*args->GetBool("d", true));
  EXPECT_EQ(*args->GetDoubleList("e", {}), (std::vector<double>{0.9, 0.999}));
  EXPECT_EQ(*args->GetString("f", ""), "word");
  EXPECT_EQ(*args->GetDouble("missing", 7.0), 7.0);
  EXPECT_EQ(*args->GetInt("missing_int", 4), 4);
  EXPECT_TRUE(args->CheckNoUnknownKeys().ok());
}

TEST(SpecArgsTest, GettersRejectMalformedValuesNamingKeyAndValue) {
  auto args = SpecArgs::Parse(
      "x:i=1.5,j=99999999999999999999,d=1e999,b=2,l=1//2", "test spec");
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_THAT(std::string(args->GetInt("i", 0).status().message()),
              HasSubstr("i=1.5"));
  EXPECT_THAT(std::string(args->GetInt("j", 0).status().message()),
              HasSubstr("j=99999999999999999999"));
  EXPECT_THAT(std::string(args->GetDouble("d", 0).status().message()),
              HasSubstr("d=1e999"));
  EXPECT_THAT(std::string(args->GetBool("b", false).status().message()),
              HasSubstr("b=2"));
  EXPECT_THAT(std::string(args->GetDoubleList("l", {}).status().message()),
              HasSubstr("l=1//2"));
  EXPECT_THAT(std::string(args->GetInt("i", 0).status().message()),
              HasSubstr("test spec 'x:i=1.5"));
}

TEST(SpecArgsTest, UnknownKeyListsKnownKeys) {
  auto args = SpecArgs::Parse("sgd:lr=1,momentun=0.9", "optimizer spec");
  ASSERT_TRUE(args.ok());
  ASSERT_TRUE(args->GetDouble("lr", 0).ok());
  ASSERT_TRUE(args->GetDouble("momentum", 0).ok());
  const std::string message(args->CheckNoUnknownKeys().message());
  EXPECT_THAT(message, HasSubstr("unknown key 'momentun'"));
  EXPECT_THAT(message, HasSubstr("known keys: lr, momentum"));
}

TEST(SpecArgsTest, RequireAndRequireKeyNameTheKey) {
  auto args = SpecArgs::Parse("cosine:t_max=0", "lr schedule spec");
  ASSERT_TRUE(args.ok());
  EXPECT_TRUE(args->Require(true, "t_max", "x").ok());
  EXPECT_THAT(
      std::string(args->Require(false, "t_max", "must be >= 1").message()),
      HasSubstr("invalid t_max=0: must be >= 1"));
  EXPECT_TRUE(args->RequireKey("t_max").ok());
  EXPECT_THAT(std::string(args->RequireKey("t_0").message()),
              HasSubstr("missing required key 't_0'"));
}

TEST(SpecArgsTest, RejectsMalformedSpecs) {
  const struct {
    const char* spec;
    const char* expected;
  } cases[] = {
      {"", "expected a name"},        {"a b:x=1", "'a b'"},
      {"a:x", "expected key=value"},  {"a:x=1,", "expected key=value"},
      {"a:x=1=2", "bad value '1=2'"}, {"a:x=1:2", "bad value '1:2'"},
      {"a:x-y=1", "bad key 'x-y'"},   {"a:x=1,x=2", "'x' given more than once"},
  };
  for (const auto& c : cases) {
    auto args = SpecArgs::Parse(c.spec, "test spec");
    ASSERT_FALSE(args.ok()) << c.spec;
    EXPECT_THAT(std::string(args.status().message()), HasSubstr(c.expected))
        << c.spec;
    EXPECT_THAT(std::string(args.status().message()),
                HasSubstr(std::string("test spec '") + c.spec + "'"));
  }
}

TEST(FormatSpecDoubleTest, ShortestExactRoundTrip) {
  EXPECT_EQ(FormatSpecDouble(0.1), "0.1");
  EXPECT_EQ(FormatSpecDouble(5e-4), "0.0005");
  EXPECT_EQ(FormatSpecDouble(0), "0");
  EXPECT_EQ(FormatSpecDouble(-2.5), "-2.5");
  EXPECT_EQ(FormatSpecDouble(10000), "1e+04");
  for (double v :
       {1.0 / 3, 0.123456789, 1e300, 2.2250738585072014e-308, 0.999, 3e-8}) {
    EXPECT_EQ(std::strtod(FormatSpecDouble(v).c_str(), nullptr), v)
        << FormatSpecDouble(v);
  }
}

}  // namespace
}  // namespace optim_internal
}  // namespace simdnet
