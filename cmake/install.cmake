# The package: what `cmake --install` puts where (docs/packaging.md).
#
#   include/clientflow.h                       the one public header
#   lib/libclientflow.so.0 (-> .so.0.1.0)      shared library, SONAME libclientflow.so.0,
#   lib/libclientflow.so                       exports only the cf_ API (cmake/libclientflow.map)
#   lib/libclientflow.a                        static library
#   bin/clientflow                             the program (migrations and SQL built in)
#   lib/pkgconfig/clientflow.pc                pkg-config (Requires.private / Libs.private
#                                              for `pkg-config --static`)
#   lib/cmake/clientflow/                      find_package(clientflow): clientflow::clientflow
#                                              (shared), clientflow::clientflow_static, version file
#
# lib is CMAKE_INSTALL_LIBDIR (GNUInstallDirs: lib, or lib/<multiarch> for a
# /usr prefix on Debian).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CF_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/clientflow)

install(FILES ${CMAKE_SOURCE_DIR}/include/clientflow.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS clientflow RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS clientflow_shared EXPORT clientflowTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS clientflow_static EXPORT clientflowStaticTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT clientflowTargets NAMESPACE clientflow:: DESTINATION ${CF_CMAKE_DIR})
install(EXPORT clientflowStaticTargets NAMESPACE clientflow:: DESTINATION ${CF_CMAKE_DIR})

configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/clientflowConfig.cmake.in
  ${CMAKE_BINARY_DIR}/generated/clientflowConfig.cmake
  INSTALL_DESTINATION ${CF_CMAKE_DIR})
# Compatible within one major version, like the SONAME (libclientflow.so.0):
# a change that breaks the API or ABI raises the major version.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/generated/clientflowConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/generated/clientflowConfig.cmake
              ${CMAKE_BINARY_DIR}/generated/clientflowConfigVersion.cmake
        DESTINATION ${CF_CMAKE_DIR})

# pkg-config: the prefix is found from the .pc file's own place (${pcfiledir}),
# so `cmake --install --prefix DIR`, DESTDIR or a moved tree still give the
# right paths; directories given as absolute paths stay absolute.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(CF_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH up /x/${CMAKE_INSTALL_LIBDIR}/pkgconfig /x)
  string(REGEX REPLACE "/$" "" up "${up}")
  set(CF_PC_PREFIX "\${pcfiledir}/${up}")
endif()
foreach(kind LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
    set(CF_PC_${kind} "${CMAKE_INSTALL_${kind}}")
  else()
    set(CF_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
  endif()
endforeach()
configure_file(${CMAKE_SOURCE_DIR}/cmake/clientflow.pc.in
               ${CMAKE_BINARY_DIR}/generated/clientflow.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/generated/clientflow.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
