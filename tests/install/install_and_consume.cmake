# cmake -P script behind the install.find_package test; see CMakeLists.txt beside it.
# Inputs (-D): SLUICE_BUILD_DIR, CONSUMER_SOURCE_DIR, WORK_DIR, GENERATOR, CXX_COMPILER,
# CXX_COMPILER_LAUNCHER (may be empty), BUILD_TYPE, CONSUMER_FLAGS (may be empty).
cmake_minimum_required(VERSION 3.25)

foreach(var SLUICE_BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install_and_consume.cmake: -D${var}=... is required")
  endif()
endforeach()
if("${BUILD_TYPE}" STREQUAL "")
  set(BUILD_TYPE RelWithDebInfo)
endif()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

# Runs a command, echoing it, and fails the test with its output if it fails.
function(run step)
  message(STATUS "[${step}] ${ARGN}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[${step}] failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "[${step}] ok")
endfunction()

run(install ${CMAKE_COMMAND} --install ${SLUICE_BUILD_DIR} --prefix ${prefix})

foreach(file include/sluice/core/event_store.h include/sluice/eventstore/rocks_event_store.h)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "[install] ${prefix}/${file} is missing")
  endif()
endforeach()
file(GLOB_RECURSE private_headers ${prefix}/include/*record_codec.h ${prefix}/include/*keys.h)
if(private_headers)
  message(FATAL_ERROR "[install] private headers were installed: ${private_headers}")
endif()

set(configure_args
  -S ${CONSUMER_SOURCE_DIR} -B ${consumer_build} -G ${GENERATOR}
  -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
  -DCMAKE_PREFIX_PATH=${prefix}
  # Only the installed tree: never the source or build tree of Sluice, nor a system-wide copy.
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(NOT "${CXX_COMPILER_LAUNCHER}" STREQUAL "")
  list(APPEND configure_args -DCMAKE_CXX_COMPILER_LAUNCHER=${CXX_COMPILER_LAUNCHER})
endif()
if(NOT "${CONSUMER_FLAGS}" STREQUAL "")
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${CONSUMER_FLAGS}"
       "-DCMAKE_EXE_LINKER_FLAGS=${CONSUMER_FLAGS}")
endif()
run(configure ${CMAKE_COMMAND} ${configure_args})
run(build ${CMAKE_COMMAND} --build ${consumer_build})
run(run ${consumer_build}/sluice_consumer ${WORK_DIR}/store)
