// The 1000 ImageNet-1k class names, in the order of torchvision's classifiers' outputs.
#ifndef SIMDNET_DATA_IMAGENET_CLASSES_H_
#define SIMDNET_DATA_IMAGENET_CLASSES_H_

#include <string>
#include <vector>

namespace simdnet {

// Returns the 1000 names ("tench", "goldfish", ..., "toilet tissue"); index = class id.
std::vector<std::string> ImageNetClassNames();

}  // namespace simdnet

#endif  // SIMDNET_DATA_IMAGENET_CLASSES_H_
