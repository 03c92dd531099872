//! The backward pass of the custom operations, for burn's autodiff decorator.

use burn::backend::Autodiff;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
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

    fn gelu_exact_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        // Only reached for second-order gradients, which TinyU-Net never takes.
        let output = B::gelu_exact_backward(x.primitive().clone(), grad.primitive().clone());
        #[derive(Debug)]
        struct NoGrad;
        impl<B: TinyKernels> Backward<B, 2> for NoGrad {
            type State = ();
            fn backward(self, _: Ops<(), 2>, _: &mut Gradients, _: &mut Checkpointer) {}
        }
        NoGrad
            .prepare::<C>([x.node(), grad.node()])
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
