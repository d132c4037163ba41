import './base.css';
import './kernels.css';
import './templates.css';
