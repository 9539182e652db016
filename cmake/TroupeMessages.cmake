# TroupeMessages.cmake — troupe_add_messages(TARGET PROTO...): generates
# each .proto with nanopb (an options file NAME.options beside it is used)
# and troupe's typed-message descriptors (NAME.tr.h: a tr_msgtype per
# message, its tag computed at build time), adds them to TARGET and links
# nanopb. Then: #include "NAME.tr.h" and tr_send_msg(ctx, to,
# &pkg_Msg_type, &msg) (docs/typed.md). Part of the installed package
# (find_package(troupe)) and of troupe's own build.
include_guard(GLOBAL)
set(_TROUPE_MESSAGES_DIR "${CMAKE_CURRENT_LIST_DIR}")

function(troupe_add_messages target)
  if(NOT ARGN)
    message(FATAL_ERROR "troupe_add_messages(${target}): no .proto given")
  endif()
  find_program(TROUPE_NANOPB_GENERATOR
    NAMES nanopb_generator.py nanopb_generator REQUIRED)
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  if(NOT TARGET nanopb::protobuf-nanopb-static)
    find_package(nanopb CONFIG REQUIRED)
  endif()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/troupe_messages)
  file(MAKE_DIRECTORY ${out})
  foreach(proto ${ARGN})
    get_filename_component(abs ${proto} ABSOLUTE)
    get_filename_component(dir ${abs} DIRECTORY)
    get_filename_component(name ${abs} NAME_WE)
    set(deps ${abs})
    if(EXISTS ${dir}/${name}.options)
      list(APPEND deps ${dir}/${name}.options)
    endif()
    add_custom_command(
      OUTPUT ${out}/${name}.pb.c ${out}/${name}.pb.h ${out}/${name}.tr.h
      COMMAND ${TROUPE_NANOPB_GENERATOR} -q -D ${out} -I ${dir} ${name}.proto
      COMMAND ${Python3_EXECUTABLE}
              ${_TROUPE_MESSAGES_DIR}/troupe_messages.py ${abs}
              ${out}/${name}.tr.h
      DEPENDS ${deps} ${_TROUPE_MESSAGES_DIR}/troupe_messages.py
      WORKING_DIRECTORY ${dir}
      COMMENT "troupe_add_messages: ${name}.proto"
      VERBATIM)
    target_sources(${target} PRIVATE ${out}/${name}.pb.c)
  endforeach()
  target_include_directories(${target} PRIVATE ${out})
  target_link_libraries(${target} PRIVATE nanopb::protobuf-nanopb-static)
endfunction()
