# The layers of the C++ code, each one static library, each linking only the layers below it:
#
#   dynatroni_core_lib (core/) <- dynatroni_http (http/) <- dynatroni_aws (aws/, aws/providers/)
#     <- dynatroni_dynamodb (dynamodb/) <- dynatroni_dcs (dcs/) <- dynatroni_cli_lib (cli/), the Python extension
#
# Every folder's headers are reachable from every other (one include directory, the repository root), so an
# include that runs back up a layer still compiles; the link catches it. For each layer, a link check
# executable <layer>_link_check links the whole archive of that layer (every object in it, used or not) against
# only what the layer declares it links, so a call from a layer into one above it (say http/ into dcs/) is an
# undefined reference and the default build target fails. Inline functions and templates of a higher layer's
# header need no symbol and are not caught.
#
# Test doubles (the fake transport, the loopback HTTP server, the credential-provider test support, the local
# server list) live in dynatroni_testing. The production targets (the layers, the `dynatroni` command, the Python
# extension, the example) are registered with dynatroni_production(); dynatroni_check_production(), called at
# the end of the top-level CMakeLists.txt, fails the configure step if any of them links dynatroni_testing or
# the lease simulation (dynatroni_sim), directly or through any library it links.

if(SKBUILD OR DYNATRONI_BUILD_FUZZ)
  set(dynatroni_check_layers_default OFF)  # the wheel and the fuzz targets need no link checks
else()
  set(dynatroni_check_layers_default ON)
endif()
option(DYNATRONI_CHECK_LAYERS "Build the per-layer link checks (<layer>_link_check) with the default target"
       ${dynatroni_check_layers_default})

# Targets no production target may link.
set(DYNATRONI_TEST_ONLY_TARGETS dynatroni_testing dynatroni_sim)

function(dynatroni_production target)
  set_property(GLOBAL APPEND PROPERTY DYNATRONI_PRODUCTION_TARGETS ${target})
endfunction()

# The executable that links the whole archive of `target` and nothing more than `target` declares.
function(dynatroni_link_check target)
  if(DYNATRONI_CHECK_LAYERS)
    add_executable(${target}_link_check ${PROJECT_SOURCE_DIR}/cmake/layer_link_check.cc)
    target_link_libraries(${target}_link_check PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,${target}>")
  endif()
endfunction()

# One layer: warnings, its link check, and a production target.
function(dynatroni_layer target)
  dynatroni_set_warnings(${target})
  dynatroni_link_check(${target})
  dynatroni_production(${target})
  set_property(GLOBAL APPEND PROPERTY DYNATRONI_LAYERS ${target})
endfunction()

# Every target `target` links, directly or through the libraries it links (PUBLIC and PRIVATE alike: a
# static library's PRIVATE dependencies end on its consumers' link lines).
function(dynatroni_link_closure target out_var)
  set(seen "")
  set(queue ${target})
  while(queue)
    list(POP_FRONT queue t)
    if(t IN_LIST seen OR NOT TARGET ${t})
      continue()
    endif()
    list(APPEND seen ${t})
    get_target_property(imported ${t} IMPORTED)
    if(imported)
      continue()
    endif()
    get_target_property(type ${t} TYPE)
    set(libs "")
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(direct ${t} LINK_LIBRARIES)
      if(direct)
        list(APPEND libs ${direct})
      endif()
    endif()
    get_target_property(iface ${t} INTERFACE_LINK_LIBRARIES)
    if(iface)
      list(APPEND libs ${iface})
    endif()
    foreach(lib IN LISTS libs)
      # $<LINK_ONLY:x> and $<LINK_LIBRARY:FEATURE,x> name x.
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" lib "${lib}")
      string(REGEX REPLACE "^\\$<LINK_LIBRARY:[^,]*,(.*)>$" "\\1" lib "${lib}")
      list(APPEND queue ${lib})
    endforeach()
  endwhile()
  set(${out_var} ${seen} PARENT_SCOPE)
endfunction()

function(dynatroni_check_production)
  get_property(targets GLOBAL PROPERTY DYNATRONI_PRODUCTION_TARGETS)
  foreach(target IN LISTS targets)
    dynatroni_link_closure(${target} closure)
    foreach(forbidden IN LISTS DYNATRONI_TEST_ONLY_TARGETS)
      if(forbidden IN_LIST closure)
        message(FATAL_ERROR "${target} is a production target but links ${forbidden} (test support): "
                            "see cmake/DynatroniLayers.cmake")
      endif()
    endforeach()
  endforeach()
endfunction()
