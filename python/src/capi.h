// File: python/src/capi.h
//
// The C ABI of Dynatroni's C++ core, libdynatroni_capi.so, loaded by python/dynatroni/_core.py with ctypes
// (no CPython API: one shared library serves every Python 3 version; docs/install.md, issue #20 part 2).
//
// Message-based: arguments go in as one JSON array (UTF-8), results come back as one JSON value. Every call
// returns a dynatroni_status and, through *out, a string the caller frees with dynatroni_free():
//   DYNATRONI_OK            the result (JSON)
//   DYNATRONI_STORE_ERROR   {"str", "code", "message", "aws_error", "http_status", "operation", "attempts",
//                            "elapsed", "request_id"}: DynamoDB could not be reached or the outcome is
//                            unknown (str: Status::ToString(); the last four are null when unknown)
//   any other code          {"message"}: DYNATRONI_CONFIG_ERROR (a bad `dynamodb:` section),
//   DYNATRONI_VALUE_ERROR
//                            (invalid input), DYNATRONI_TYPE_ERROR (arguments of the wrong JSON type or
//                            count, an unknown method), DYNATRONI_RUNTIME_ERROR (anything else thrown by the
//                            core)
// Messages never carry credentials. Thread-safe: any function from any thread, any number at once, except
// that dynatroni_dcs_close must be the last call on its handle.
#ifndef DYNATRONI_PYTHON_SRC_CAPI_H_
#define DYNATRONI_PYTHON_SRC_CAPI_H_

#define DYNATRONI_API __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

enum dynatroni_status {
  DYNATRONI_OK = 0,
  DYNATRONI_STORE_ERROR = 1,
  DYNATRONI_CONFIG_ERROR = 2,
  DYNATRONI_VALUE_ERROR = 3,
  DYNATRONI_TYPE_ERROR = 4,
  DYNATRONI_RUNTIME_ERROR = 5,
};

typedef struct dynatroni_dcs dynatroni_dcs;  // NOLINT(modernize-use-using): C

// The version (VERSION), a static string.
DYNATRONI_API const char* dynatroni_version(void);

// The names dynatroni_call and dynatroni_dcs_call dispatch, a static JSON object:
// {"functions": [...], "dcs_methods": [...]}.
DYNATRONI_API const char* dynatroni_methods(void);

// A free function: sign_dynamodb_request, partition_for, parse_config.
DYNATRONI_API int dynatroni_call(const char* function, const char* args_json, char** out);

// Opens a Dcs (args: [section (object of strings), partition, name]); on DYNATRONI_OK *handle is set and *out
// is null.
DYNATRONI_API int dynatroni_dcs_open(const char* args_json, dynatroni_dcs** handle, char** out);

// One method or property of an open Dcs.
DYNATRONI_API int dynatroni_dcs_call(dynatroni_dcs* handle, const char* method, const char* args_json,
                                     char** out);

DYNATRONI_API void dynatroni_dcs_close(dynatroni_dcs* handle);

DYNATRONI_API void dynatroni_free(char* s);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // DYNATRONI_PYTHON_SRC_CAPI_H_
