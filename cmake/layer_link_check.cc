// File: cmake/layer_link_check.cc
//
// The main() of the per-layer link checks (cmake/DynatroniLayers.cmake): each links the whole archive of
// one layer, so every undefined reference in that layer must be met by the layers below it.
int main() { return 0; }
