//! The backward pass of the custom operations, for burn's autodiff decorator.

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;

use super::TinyKernels;

impl<B: TinyKernels, C: CheckpointStrategy> TinyKernels for Autodiff<B, C> {
    fn bicubic_up2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        /// Bicubic upsampling is linear: its backward needs no saved state, only the gradient.
        #[derive(Debug)]
        struct BicubicUp2;

        impl<B: TinyKernels> Backward<B, 1> for BicubicUp2 {
            type State = ();

            fn backward(self, ops: Ops<(), 1>, grads: &mut Gradients, _: &mut Checkpointer) {
                let [parent] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                if let Some(parent) = parent {
                    grads.register::<B>(parent.id, B::bicubic_up2_backward(grad));
                }
            }
        }

        let output = B::bicubic_up2(x.primitive().clone());
        BicubicUp2
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateless(output)
    }

    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        // Training keeps burn's differentiable pooling (argmax indices and all); the fast kernel
        // of the inner backend serves inference.
        <Self as ModuleOps<Self>>::max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false)
    }

    fn bicubic_up2_backward(grad: FloatTensor<Self>) -> FloatTensor<Self> {
        // Only reached for second-order gradients, which TinyU-Net never takes.
        let output = B::bicubic_up2_backward(grad.primitive().clone());
        #[derive(Debug)]
        struct NoGrad;
        impl<B: TinyKernels> Backward<B, 1> for NoGrad {
            type State = ();
            fn backward(self, _: Ops<(), 1>, _: &mut Gradients, _: &mut Checkpointer) {}
        }
        NoGrad
            .prepare::<C>([grad.node()])
            .compute_bound()
            .stateless(output)
    }
}
