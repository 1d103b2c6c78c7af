# Installing the library for other projects (GNUInstallDirs layout):
#   headers      ${includedir}/kvseal/*.h
#   libraries    ${libdir}/libkvseal.so.* and libkvseal.a
#   pkg-config   ${libdir}/pkgconfig/kvseal.pc   (pkg-config --cflags --libs kvseal)
#   CMake        ${libdir}/cmake/kvseal/          (find_package(kvseal): targets
#                kvseal::kvseal, shared, and kvseal::kvseal_static)
# Every path in the installed files is relative to where they are installed,
# so `cmake --install build --prefix DIR` works for any DIR.
include(CMakePackageConfigHelpers)

set(KVSEAL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/kvseal)

install(TARGETS kvseal_static kvseal_shared EXPORT kvsealTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/kvseal DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT kvsealTargets NAMESPACE kvseal:: DESTINATION ${KVSEAL_CMAKE_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/kvsealConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/kvsealConfig.cmake
                              INSTALL_DESTINATION ${KVSEAL_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/kvsealConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/kvsealConfig.cmake
              ${PROJECT_BINARY_DIR}/kvsealConfigVersion.cmake
        DESTINATION ${KVSEAL_CMAKE_DIR})

# pkg-config: the prefix is found from the .pc file's own directory.
file(RELATIVE_PATH KVSEAL_PC_PREFIX "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
configure_file(${PROJECT_SOURCE_DIR}/cmake/kvseal.pc.in ${PROJECT_BINARY_DIR}/kvseal.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/kvseal.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
