"""Graph passes over Keras models, each ``model -> (model, report)``: strip training-only heads
(``strip_training``), fold BatchNorm (``fold_batchnorm``), reduce convolutions over 1x1 maps to
their centre tap (``simplify``), move the softmax to post-processing (``softmax``), and
quantization-aware fine-tuning (``qat``); ``graph`` is the rewriter they share."""
