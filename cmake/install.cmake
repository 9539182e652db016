# Installs the headers, both libraries, a CMake package (troupe::) and troupe.pc.
include(CMakePackageConfigHelpers)
install(FILES include/troupe.h include/troupe_ops.h include/troupe_plugin.h
  include/troupe_pb.h include/troupe_inspect.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS troupe_static troupe_shared EXPORT troupeTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT troupeTargets NAMESPACE troupe::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/troupe)
configure_package_config_file(cmake/troupeConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/troupeConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/troupe)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/troupeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/troupeConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/troupeConfigVersion.cmake
  cmake/TroupeMessages.cmake cmake/troupe_messages.py
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/troupe)
# Relocatable: the prefix is found from where troupe.pc was installed.
file(RELATIVE_PATH TR_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" TR_PC_TO_PREFIX "${TR_PC_TO_PREFIX}")
configure_file(cmake/troupe.pc.in ${CMAKE_CURRENT_BINARY_DIR}/troupe.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/troupe.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
