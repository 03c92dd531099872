//! The backward pass of the custom operations, for burn's autodiff decorator.

use burn::backend::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;

use super::TinyKernels;

/// Forward on the inner backend with a hand-written backward for the two operations TinyU-Net
/// differentiates. The rest keep the trait's defaults, composed of autodiff's own operations:
/// `max_pool2x2` is burn's differentiable pooling (the fast kernel serves inference only), and the
/// backward operations themselves stay differentiable should a second-order gradient be taken.
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

    fn gelu_exact(x: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct GeluExact;

        impl<B: TinyKernels> Backward<B, 1> for GeluExact {
            type State = NodeId;

            fn backward(
                self,
                ops: Ops<NodeId, 1>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [parent] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let x = checkpointer.retrieve_node_output(ops.state);
                if let Some(parent) = parent {
                    grads.register::<B>(parent.id, B::gelu_exact_backward(x, grad));
                }
            }
        }

        match GeluExact
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = prep.checkpoint(&x);
                prep.finish(state, B::gelu_exact(x.primitive().clone()))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gelu_exact(x.primitive().clone())),
        }
    }
}
