//! The backward pass of the custom operations, for burn's autodiff decorator.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, TensorMetadata};

use super::TinyKernels;

/// Forward on the inner backend with a hand-written backward for the operations TinyU-Net
/// differentiates. The rest keep the trait's defaults, composed of autodiff's own operations, so
/// the backward operations themselves stay differentiable should a second-order gradient be taken.
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

    fn bicubic_up2_cat(x: FloatTensor<Self>, skip: FloatTensor<Self>) -> FloatTensor<Self> {
        /// The join is linear in both inputs: its backward needs only `x`'s channel count.
        #[derive(Debug)]
        struct BicubicUp2Cat;

        impl<B: TinyKernels> Backward<B, 2> for BicubicUp2Cat {
            type State = usize;

            fn backward(self, ops: Ops<usize, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
                let [node_x, node_skip] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x_grad, skip_grad) = B::bicubic_up2_cat_backward(grad, ops.state);
                for (node, grad) in [(node_x, x_grad), (node_skip, skip_grad)] {
                    if let Some(node) = node {
                        grads.register::<B>(node.id, grad);
                    }
                }
            }
        }

        // Written in one pass by the inner backend's join (in place on the CPU), where the
        // composed default would upsample, then concatenate (a serial copy on the CPU), and
        // take the concatenation's gradient apart with copies again.
        let channels = x.primitive().shape()[1];
        let output = B::bicubic_up2_cat(x.primitive().clone(), skip.primitive().clone());
        match BicubicUp2Cat
            .prepare::<C>([x.node(), skip.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(channels, output),
            OpsKind::UnTracked(prep) => prep.finish(output),
        }
    }

    fn bn_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        /// As burn's own batch-norm node, but with the inner backend's `bn_train_backward`.
        #[derive(Debug)]
        struct BnTrain;

        /// The checkpointed input and γ, the batch statistics, and ε.
        type BnState<B> = (NodeId, NodeId, FloatTensor<B>, FloatTensor<B>, f64);

        impl<B: TinyKernels> Backward<B, 3> for BnTrain {
            type State = BnState<B>;

            fn backward(
                self,
                ops: Ops<Self::State, 3>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let [node_x, node_gamma, node_beta] = ops.parents;
                let grad = grads.consume::<B>(&ops.node);
                let (x, gamma, mean, variance, epsilon) = ops.state;
                let x = checkpointer.retrieve_node_output(x);
                let gamma = checkpointer.retrieve_node_output(gamma);
                let (x_grad, gamma_grad, beta_grad) =
                    B::bn_train_backward(x, gamma, mean, variance, epsilon, grad);
                for (node, grad) in [
                    (node_x, x_grad),
                    (node_gamma, gamma_grad),
                    (node_beta, beta_grad),
                ] {
                    if let Some(node) = node {
                        grads.register::<B>(node.id, grad);
                    }
                }
            }
        }

        let forward = || {
            B::bn_train(
                x.primitive().clone(),
                gamma.primitive().clone(),
                beta.primitive().clone(),
                epsilon,
            )
        };
        let (output, mean, variance) = match BnTrain
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let (output, mean, variance) = forward();
                let state = (
                    x_state,
                    gamma_state,
                    mean.clone(),
                    variance.clone(),
                    epsilon,
                );
                (prep.finish(state, output), mean, variance)
            }
            OpsKind::UnTracked(prep) => {
                let (output, mean, variance) = forward();
                (prep.finish(output), mean, variance)
            }
        };
        // The statistics feed only the running averages: constants to autodiff.
        (
            output,
            FloatTensor::<Self>::new(mean),
            FloatTensor::<Self>::new(variance),
        )
    }

    fn cmrf_cascade_train(
        y: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        /// The whole training cascade as one node: the inner backend's fused backward instead
        /// of some forty recorded steps (slices, adds, a concatenation, their gradients' copies
        /// and sums).
        #[derive(Debug)]
        struct CascadeTrain;

        /// What the backward reads: the checkpointed input, the output, the stacked kernels
        /// and γ, the batch statistics, and ε.
        #[derive(Clone, Debug)]
        struct CascadeState<B: Backend> {
            y: NodeId,
            joined: FloatTensor<B>,
            weight: FloatTensor<B>,
            gamma: FloatTensor<B>,
            mean: FloatTensor<B>,
            variance: FloatTensor<B>,
            epsilon: f64,
        }

        impl<B: TinyKernels> Backward<B, 4> for CascadeTrain {
            type State = CascadeState<B>;

            fn backward(
                self,
                ops: Ops<Self::State, 4>,
                grads: &mut Gradients,
                checkpointer: &mut Checkpointer,
            ) {
                let grad = grads.consume::<B>(&ops.node);
                let state = ops.state;
                let y = checkpointer.retrieve_node_output(state.y);
                let (y_grad, weight_grad, gamma_grad, beta_grad) = B::cmrf_cascade_train_backward(
                    y,
                    state.joined,
                    state.weight,
                    state.gamma,
                    state.mean,
                    state.variance,
                    state.epsilon,
                    grad,
                );
                let gradients = [y_grad, weight_grad, gamma_grad, beta_grad];
                for (node, grad) in ops.parents.into_iter().zip(gradients) {
                    if let Some(node) = node {
                        grads.register::<B>(node.id, grad);
                    }
                }
            }
        }

        let forward = || {
            B::cmrf_cascade_train(
                y.primitive().clone(),
                weight.primitive().clone(),
                gamma.primitive().clone(),
                beta.primitive().clone(),
                epsilon,
            )
        };
        let (output, mean, variance) = match CascadeTrain
            .prepare::<C>([y.node(), weight.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let y_state = prep.checkpoint(&y);
                let (joined, mean, variance) = forward();
                let state = CascadeState {
                    y: y_state,
                    joined: joined.clone(),
                    weight: weight.primitive().clone(),
                    gamma: gamma.primitive().clone(),
                    mean: mean.clone(),
                    variance: variance.clone(),
                    epsilon,
                };
                (prep.finish(state, joined), mean, variance)
            }
            OpsKind::UnTracked(prep) => {
                let (joined, mean, variance) = forward();
                (prep.finish(joined), mean, variance)
            }
        };
        // As in `bn_train`: the statistics feed only the running averages.
        (
            output,
            FloatTensor::<Self>::new(mean),
            FloatTensor::<Self>::new(variance),
        )
    }

    fn depthwise3x3(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        from_two_inputs::<B, C>(x, weight, B::depthwise3x3, B::depthwise3x3_backward)
    }

    fn pointwise(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        from_two_inputs::<B, C>(x, weight, B::pointwise, B::pointwise_backward)
    }

    fn max_pool2x2(x: FloatTensor<Self>) -> FloatTensor<Self> {
        // The backward finds each window's maximum again in the saved input: cheaper than
        // keeping an index tensor alive from the forward to the backward.
        from_input::<B, C>(x, B::max_pool2x2, B::max_pool2x2_backward)
    }

    fn gelu_exact(x: FloatTensor<Self>) -> FloatTensor<Self> {
        from_input::<B, C>(x, B::gelu_exact, B::gelu_exact_backward)
    }
}

/// A one-input operation whose gradient needs only its input and the output's gradient.
struct FromInput<B: Backend> {
    backward: fn(FloatTensor<B>, FloatTensor<B>) -> FloatTensor<B>,
}

impl<B: Backend> core::fmt::Debug for FromInput<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FromInput")
    }
}

impl<B: TinyKernels> Backward<B, 1> for FromInput<B> {
    type State = NodeId;

    fn backward(self, ops: Ops<NodeId, 1>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let x = checkpointer.retrieve_node_output(ops.state);
        if let Some(parent) = parent {
            grads.register::<B>(parent.id, (self.backward)(x, grad));
        }
    }
}

/// Runs `forward` on the inner backend and records `backward` (input, output gradient) for it.
fn from_input<B: TinyKernels, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    forward: fn(FloatTensor<B>) -> FloatTensor<B>,
    backward: fn(FloatTensor<B>, FloatTensor<B>) -> FloatTensor<B>,
) -> FloatTensor<Autodiff<B, C>> {
    let node = FromInput { backward };
    match node.prepare::<C>([x.node()]).compute_bound().stateful() {
        OpsKind::Tracked(mut prep) => {
            let state = prep.checkpoint(&x);
            prep.finish(state, forward(x.primitive().clone()))
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(x.primitive().clone())),
    }
}

/// The gradients of a two-input operation (an input and a weight) from both inputs and the
/// output's gradient.
type TwoInputBackward<B> =
    fn(FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) -> (FloatTensor<B>, FloatTensor<B>);

/// A two-input operation whose gradients need only its inputs and the output's gradient.
struct FromTwoInputs<B: Backend> {
    backward: TwoInputBackward<B>,
}

impl<B: Backend> core::fmt::Debug for FromTwoInputs<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FromTwoInputs")
    }
}

impl<B: TinyKernels> Backward<B, 2> for FromTwoInputs<B> {
    type State = (NodeId, NodeId);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let x = checkpointer.retrieve_node_output(ops.state.0);
        let weight = checkpointer.retrieve_node_output(ops.state.1);
        let (x_grad, weight_grad) = (self.backward)(x, weight, grad);
        if let Some(node) = node_x {
            grads.register::<B>(node.id, x_grad);
        }
        if let Some(node) = node_weight {
            grads.register::<B>(node.id, weight_grad);
        }
    }
}

/// Runs `forward` on the inner backend and records `backward` (both inputs, output gradient).
fn from_two_inputs<B: TinyKernels, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    weight: FloatTensor<Autodiff<B, C>>,
    forward: fn(FloatTensor<B>, FloatTensor<B>) -> FloatTensor<B>,
    backward: TwoInputBackward<B>,
) -> FloatTensor<Autodiff<B, C>> {
    let node = FromTwoInputs { backward };
    let output = || forward(x.primitive().clone(), weight.primitive().clone());
    match node
        .prepare::<C>([x.node(), weight.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let state = (prep.checkpoint(&x), prep.checkpoint(&weight));
            prep.finish(state, output())
        }
        OpsKind::UnTracked(prep) => prep.finish(output()),
    }
}
